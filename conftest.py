"""The shared test world.

alice and bob are creators; carol is a reviewer; dave is staff (admin); eve is a plain user.
`api(user)` is a DRF client acting as `user` (anonymous when None).
"""

import os
import random
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

pytest_plugins = ["agenthub.testing"]

IN_CI = os.environ.get("CI", "").lower() == "true"


def _need(condition: bool, what: str) -> None:
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true")
    pytest.skip(f"needs {what}")


@pytest.fixture(autouse=True)
def _service_markers(request):
    if request.node.get_closest_marker("postgres"):
        _need(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    if request.node.get_closest_marker("redis"):
        _need(bool(os.environ.get("REDIS_URL")), "Redis (REDIS_URL)")


@pytest.fixture(autouse=True)
def _fresh_catalog_cache():
    # Each test starts from its own database state; cached catalog figures must not leak in.
    from marketplace.selectors import CATALOG_VERSION_KEY

    cache.set(CATALOG_VERSION_KEY, random.getrandbits(48), timeout=None)


@pytest.fixture(autouse=True)
def _no_login_or_throttle_counts():
    # Failed logins and throttles are counted per client address in the cache (Redis in CI), and
    # every test client is 127.0.0.1: counts left by one test would lock out the next.
    from accounts.counters import counters_clear
    from accounts.lockout import login_attempts_clear
    from accounts.throttling import PREFIX as THROTTLE_PREFIX

    login_attempts_clear()  # before, not after: a test may leave the cache pointing somewhere broken
    counters_clear(THROTTLE_PREFIX)


@pytest.fixture
def make_user(db, django_user_model):
    def make(username: str, *, reviewer: bool = False, staff: bool = False, **extra):
        user = django_user_model.objects.create_user(
            username=username, email=f"{username}@example.com", password="correct-horse-battery", **extra
        )
        if staff:
            user.is_staff = user.is_superuser = True
            user.save()
        if reviewer:
            user.groups.add(Group.objects.get(name="Reviewers"))
        return user

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice", full_name="Alice Creator")


@pytest.fixture
def bob(make_user):
    return make_user("bob", full_name="Bob Builder")


@pytest.fixture
def carol(make_user):
    return make_user("carol", reviewer=True)


@pytest.fixture
def dave(make_user):
    return make_user("dave", staff=True)


@pytest.fixture
def eve(make_user):
    return make_user("eve")


@pytest.fixture
def api():
    def client(user=None) -> APIClient:
        c = APIClient()
        if user is not None:
            c.force_authenticate(user)
        return c

    return client


@pytest.fixture
def make_agent(db):
    from marketplace.tests.factories import agent_make

    return agent_make


@pytest.fixture
def money():
    return Decimal


@pytest.fixture
def fund(db):
    """fund(user, "10"): put BazaarBucks on a wallet the way a card top-up does (through the ledger)."""
    import uuid

    from billing.services import wallet_credit

    def credit(user, amount="10"):
        wallet_credit(user=user, amount=Decimal(amount), reference=f"test-top-up:{uuid.uuid4()}")

    return credit


@pytest.fixture
def demo_agents(settings):
    """The demo HTTP agents on a free port, registered in the catalog as `make run` registers them
    (seed_demo); yields their base URL."""
    from django.core.management import call_command

    from demo_agents.http import start_in_thread
    from orchestration import outbound

    server, base_url = start_in_thread(0)
    settings.DEMO_AGENTS_URL = base_url
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["127.0.0.1"]
    outbound.close_pools()
    with open("/dev/null", "w") as quiet:
        call_command("seed_demo", stdout=quiet)
    yield base_url
    server.stop()
