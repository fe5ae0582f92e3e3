"""The admin for accounts: keys and sessions are looked at and ended, never edited."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import ApiKey, LoginSession
from accounts.tests.conftest import NEW_PASSWORD, bearer, with_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(dave) -> Client:
    client = Client()
    client.force_login(dave)
    return client


def test_the_account_pages_of_the_admin_render(admin_client, alice):
    key, _ = services.api_key_create(user=alice, name="ci", scopes=["read"])
    services.api_session_start(user=alice, ip="198.51.100.2", user_agent="curl")

    for url in (reverse("admin:accounts_apikey_changelist"), reverse("admin:accounts_apikey_change", args=[key.pk]),
                reverse("admin:accounts_loginsession_changelist"), reverse("admin:accounts_follow_changelist"),
                reverse("admin:accounts_user_change", args=[alice.pk])):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert key.key_hash not in response.content.decode()
    assert admin_client.get(reverse("admin:accounts_apikey_add")).status_code == 403


def test_an_admin_revokes_keys_and_ends_sessions(admin_client, alice, login):
    key, raw = services.api_key_create(user=alice, name="ci", scopes=["read"])
    tokens = login(alice)

    admin_client.post(reverse("admin:accounts_apikey_changelist"),
                      {"action": "revoke", "_selected_action": [str(key.pk)]})
    admin_client.post(reverse("admin:accounts_user_changelist"),
                      {"action": "end_sessions", "_selected_action": [str(alice.pk)]})

    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert with_key(raw).get("/api/auth/me").status_code == 401
    assert bearer(tokens["access"]).get("/api/auth/me").status_code == 401
    assert LoginSession.objects.get(user=alice, kind="api").end_reason == "admin"


def test_a_password_set_by_an_admin_ends_every_session(admin_client, alice, login):
    tokens = login(alice)

    response = admin_client.post(reverse("admin:auth_user_password_change", args=[alice.pk]),
                                 {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert bearer(tokens["access"]).get("/api/auth/me").status_code == 401
