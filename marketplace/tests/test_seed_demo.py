"""`manage.py seed_demo`: what a newcomer sees on first run, and that running it again changes nothing."""

import hashlib
import re
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.management import call_command

from accounts.models import User
from marketplace import demo_data, services
from marketplace.choices import LISTED_STATUSES, AgentStatus, VersionStatus
from marketplace.models import Agent, AgentReview, AgentVersion, AgentView
from marketplace.selectors import analytics_by_domain, analytics_trending
from marketplace.validation import SEMVER, check_pricing

pytestmark = pytest.mark.django_db

NAMED = {
    "echo": "hosted",
    "calculator": "hosted",
    "text-processor": "hosted",
    "summarizer": "http",
    "translator": "http",
    "search": "http",
    "mock-busy": "http",
    "mock-highprice": "http",
    "mock-negotiator": "http",
    "echo-http": "http",  # the benchmarks' trivial HTTP agent
}
SEED_000_TEXT = ("short_description", "description", "problem_statement", "operational_details", "owner")
SEED_000_LISTS = (
    "goals",
    "in_scope",
    "out_of_scope",
    "inputs",
    "outputs",
    "security_controls",
    "personas",
    "skills",
    "tags",
)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> dict:
    return {
        "users": User.objects.count(),
        "agents": Agent.objects.count(),
        "views": AgentView.objects.count(),
        "versions": AgentVersion.objects.count(),
        "reviews": AgentReview.objects.count(),
    }


def test_running_twice_changes_nothing():
    # given
    first_output = seed()
    after_first = counts()
    view_counts = dict(Agent.objects.values_list("slug", "view_count"))
    updated = dict(Agent.objects.values_list("slug", "updated_at"))
    # when
    second_output = seed()
    # then
    assert counts() == after_first
    assert dict(Agent.objects.values_list("slug", "view_count")) == view_counts
    assert dict(Agent.objects.values_list("slug", "updated_at")) == updated
    assert "agenthub-admin" in first_output  # the logins are printed when the users are made...
    assert "agenthub-admin" not in second_output  # ...and only then


def test_a_second_run_keeps_what_happened_since(django_user_model):
    # given: the seed, then a reviewer decides on a queued agent and someone changes their password
    seed()
    queued = Agent.objects.get(slug="dsar-assistant")
    services.agent_approve(agent=queued, reviewer=User.objects.get(username="reviewer1"))
    creator = User.objects.get(username="creator1")
    creator.set_password("a-new-secret-passphrase")
    creator.save()
    # when
    seed()
    # then
    assert Agent.objects.get(slug="dsar-assistant").status == AgentStatus.APPROVED
    assert authenticate(username="creator1", password="a-new-secret-passphrase") is not None


def test_demo_users_and_roles():
    # when
    seed()
    # then
    admin = authenticate(username="admin", password="agenthub-admin")
    creator = authenticate(username="creator1", password="agenthub-creator")
    reviewer = authenticate(username="reviewer1", password="agenthub-reviewer")
    user = authenticate(username="user1", password="agenthub-user")
    assert admin.is_superuser and admin.is_staff
    assert reviewer.is_staff and reviewer.has_perm("marketplace.review_agent") and not reviewer.is_superuser
    assert not creator.has_perm("marketplace.review_agent") and not creator.is_staff
    assert not user.is_staff and not user.has_perm("marketplace.review_agent")


def test_the_nine_demo_agents_exist_with_their_transports():
    # when
    seed()
    # then
    agents = {agent.slug: agent for agent in Agent.objects.filter(slug__in=NAMED)}
    assert {slug: agent.transport for slug, agent in agents.items()} == NAMED
    for slug in ("echo", "calculator", "text-processor"):
        agent = agents[slug]
        assert agent.status == AgentStatus.APPROVED and agent.is_public and agent.is_listed
        assert re.match(r"^\w+\.py:\w+$", agent.entry_point)
        assert agent.pricing_model == "free" and not agent.price_per_use
        assert agent.created_by.username == "creator1"
    assert agents["echo"].entry_point == "main.py:main"
    assert agents["echo"].code_hash == hashlib.sha256(bytes(agents["echo"].packages.get().content)).hexdigest()
    assert (agents["echo"].tags, agents["echo"].rating, agents["echo"].total_executions) == (
        ["echo", "simple", "demo"],
        4.2,
        25,
    )
    ports = {slug: agents[slug].endpoint_url for slug in NAMED if NAMED[slug] == "http"}
    # Where manage.py run_demo_agents serves them; the HTTP echo leaves the name `echo` to the hosted one.
    assert ports == {slug: f"{settings.DEMO_AGENTS_URL}/{slug.removesuffix('-http')}" for slug in ports}
    for slug in ports:
        agent = agents[slug]
        assert agent.status == AgentStatus.ACTIVE and agent.is_listed
        assert agent.skills and agent.capabilities
        assert (agent.price_per_use > 0 and agent.dynamic_price > 0) or slug == "echo-http"  # echo is free
        assert agent.current_version is not None  # runs are pinned to an approved version
    assert agents["mock-busy"].load >= 0.9
    assert agents["mock-highprice"].price_per_use >= 5 * agents["summarizer"].price_per_use
    assert agents["mock-negotiator"].dynamic_price != agents["mock-negotiator"].price_per_use


def test_about_forty_catalog_agents_with_full_detail():
    # when
    seed()
    # then
    catalog = Agent.objects.exclude(slug__in=NAMED)
    assert catalog.count() >= 40
    assert catalog.values("business_domain").distinct().count() >= 10
    for agent in catalog:
        for field in SEED_000_TEXT:
            assert getattr(agent, field).strip(), f"{agent.slug}: {field}"
        for field in SEED_000_LISTS:
            assert getattr(agent, field), f"{agent.slug}: {field}"
        assert agent.tools and all(set(tool) == {"name", "description"} for tool in agent.tools), agent.slug
        assert agent.kpis and all(set(kpi) == {"name", "target", "current"} for kpi in agent.kpis), agent.slug
        assert agent.created_by.username == "creator1"
        if agent.status != AgentStatus.DRAFT:  # a draft may still be wrong: that is what its errors say
            assert SEMVER.match(agent.version), agent.slug
            assert not check_pricing(
                pricing_model=agent.pricing_model,
                price_per_use=agent.price_per_use,
                monthly_price=agent.monthly_price,
            ), agent.slug
    listed = catalog.filter(is_public=True, status__in=LISTED_STATUSES)
    assert listed.count() >= 30
    assert set(listed.values_list("pricing_model", flat=True)) == {"free", "per_use", "subscription"}
    assert len(analytics_by_domain()) >= 10


def test_the_review_queue_has_submissions_a_reviewer_can_decide():
    # given
    seed()
    reviewer = User.objects.get(username="reviewer1")
    queue = Agent.objects.filter(status=AgentStatus.SUBMITTED)
    # then
    assert queue.count() >= 2
    for agent in queue:
        assert agent.created_by.username == "creator1"
        assert agent.versions.filter(status=VersionStatus.SUBMITTED).count() == 1
    # when
    review = services.agent_approve(agent=queue.first(), reviewer=reviewer)
    # then
    assert review.agent.status == AgentStatus.APPROVED
    assert (
        Agent.objects.filter(status=AgentStatus.DRAFT, validation_errors__isnull=False)
        .exclude(validation_errors=[])
        .exists()
    )  # a draft shows what failed validation
    assert AgentReview.objects.filter(decision="rejected").exclude(reason="").exists()


def test_views_feed_trending():
    # when
    seed()
    # then
    for agent in Agent.objects.all():
        assert agent.view_count == agent.views.count(), agent.slug
    assert AgentView.objects.count() >= 1000
    assert not AgentView.objects.exclude(agent__is_public=True).exists()  # nobody could have seen the rest
    trending = analytics_trending(days=7, limit=10)
    assert len(trending) == 10
    hot = {data["slug"] for data in demo_data.CATALOG_AGENTS + demo_data.HTTP_AGENTS if data.get("trending")}
    assert len(hot & {row["id"] for row in trending}) >= 5  # the agents meant to trend do
    assert Agent.objects.filter(trending_score__gt=0).count() >= 30
