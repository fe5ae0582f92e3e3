"""`manage.py seed_catalog`: synthetic benchmark agents."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from marketplace import validation
from marketplace.choices import LISTED_STATUSES, PricingModel, Transport
from marketplace.models import Agent

pytestmark = pytest.mark.django_db

FIELDS = ("slug", "name", "short_description", "description", "business_domain", "tags", "skills", "pricing_model",
          "price_per_use", "monthly_price", "status", "is_public", "rating", "created_at")


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_catalog", *args, stdout=out)
    return out.getvalue()


def bot_agents():
    return Agent.objects.filter(created_by__username="catalog-bot")


def snapshot():
    return list(bot_agents().order_by("slug").values_list(*FIELDS))


def test_creates_the_agents_owned_by_the_bot():
    output = seed("--count", "60", "--batch", "25", "--anchor", "2026-11-01")

    agents = list(bot_agents())
    assert len(agents) == 60
    assert len({a.name for a in agents}) == 60
    assert len({a.business_domain for a in agents}) >= 6
    listed = [a for a in agents if a.is_listed]
    assert 0.6 * 60 <= len(listed) < 60  # mostly listed, not all
    # Listed agents are numbered without gaps (a load test can pick catalog-{rand:1-L}), the rest apart.
    n = len(listed)
    assert f"listed: catalog-1..catalog-{n}," in output and f"LISTED_LAST={n}" in output
    assert {a.slug for a in listed} == {f"catalog-{k}" for k in range(1, n + 1)}
    assert {a.slug for a in agents if not a.is_listed} == {f"catalog-unlisted-{k}" for k in range(1, 61 - n)}
    assert {a.pricing_model for a in agents} == set(PricingModel.values)
    assert {a.transport for a in agents} >= {Transport.HTTP}
    for agent in agents:
        assert agent.tags and agent.skills and agent.description and agent.kpis and agent.tools
        assert 0 <= agent.rating <= 5 and 0 <= agent.load <= 1
        problems = {
            **validation.check_pricing(pricing_model=agent.pricing_model, price_per_use=agent.price_per_use,
                                       monthly_price=agent.monthly_price),
            **validation.check_entry_point(transport=agent.transport, entry_point=agent.entry_point),
            **validation.check_version(agent.version),
            **validation.check_config_schema(agent.config_schema),
        }
        assert problems == {}, (agent.slug, problems)
    # Creation dates are the generated ones (not "now"), spread over the two years before the anchor.
    dates = sorted(a.created_at for a in agents)
    assert dates[-1].date().isoformat() <= "2026-11-01"
    assert dates[-1] - dates[0] > timedelta(days=180)
    assert all(a.updated_at >= a.created_at for a in agents)


def test_same_seed_same_rows_and_clear_is_idempotent():
    seed("--count", "30", "--anchor", "2026-11-01")
    first = snapshot()
    output = seed("--count", "30", "--clear", "--anchor", "2026-11-01")
    assert "cleared 30 rows" in output
    assert snapshot() == first
    seed("--count", "30", "--clear", "--anchor", "2026-11-01", "--batch", "7")
    assert snapshot() == first

    seed("--count", "30", "--clear", "--anchor", "2026-11-01", "--seed", "7")
    assert bot_agents().count() == 30
    assert snapshot() != first


def test_without_clear_numbering_continues_and_rows_match_a_single_run():
    seed("--count", "20", "--anchor", "2026-11-01")
    output = seed("--count", "15", "--anchor", "2026-11-01")
    assert bot_agents().count() == 35
    assert "bot owns 35 agents" in output
    appended = snapshot()
    seed("--count", "35", "--clear", "--anchor", "2026-11-01")
    assert snapshot() == appended


def test_clear_leaves_other_users_agents_alone(alice, make_agent):
    mine = make_agent(created_by=alice)
    seed("--count", "5")
    seed("--count", "5", "--clear")
    assert Agent.objects.filter(pk=mine.pk).exists()
    assert bot_agents().count() == 5


def test_clear_also_removes_what_hangs_on_the_agents(carol):
    from django.utils import timezone

    from marketplace.models import AgentReview, AgentVersion, AgentView

    seed("--count", "5")
    agent = bot_agents().get(slug="catalog-1")
    version = AgentVersion.objects.create(agent=agent, number="1.0.0", transport="http",
                                          pricing_model=agent.pricing_model)
    AgentReview.objects.create(agent=agent, version=version, reviewer=carol, decision="approved")
    AgentView.objects.create(agent=agent, session_id="s1", viewed_at=timezone.now())
    agent.current_version = version
    agent.save(update_fields=["current_version"])

    output = seed("--count", "3", "--clear")

    assert "cleared 5 rows" in output
    assert bot_agents().count() == 3
    assert not AgentVersion.objects.exists() and not AgentReview.objects.exists() and not AgentView.objects.exists()


def test_the_public_total_follows_a_reseed(api):
    seed("--count", "10")
    first = int(api().get("/api/agents?limit=1")["X-Total-Count"])
    seed("--count", "30")  # bulk inserts send no post_save: the command tells the catalog's caches itself
    second = int(api().get("/api/agents?limit=1")["X-Total-Count"])
    assert second == Agent.objects.filter(is_public=True, status__in=LISTED_STATUSES).count() > first
    seed("--count", "2", "--clear")
    assert int(api().get("/api/agents?limit=1")["X-Total-Count"]) == Agent.objects.filter(
        is_public=True, status__in=LISTED_STATUSES).count()


def test_bad_arguments():
    with pytest.raises(CommandError):
        seed("--count", "-1")
    with pytest.raises(CommandError):
        seed("--count", "1", "--batch", "0")
    with pytest.raises(CommandError):
        seed("--count", "1", "--anchor", "yesterday")


def test_seeded_agents_are_served_by_the_api(api):
    seed("--count", "40")
    listed = bot_agents().filter(is_public=True, status__in=LISTED_STATUSES)
    all_listed = Agent.objects.filter(is_public=True, status__in=LISTED_STATUSES)

    response = api().get("/api/agents?limit=20")
    assert response.status_code == 200
    assert response["X-Total-Count"] == str(all_listed.count())
    body = response.json()
    assert len(body) == 20
    assert [item["id"] for item in body] == list(all_listed.order_by("-created_at").values_list("slug", flat=True)[:20])
    assert any(item["id"].startswith("catalog-") for item in body)

    for number in range(1, listed.count() + 1):  # every number a load test may draw answers 200
        detail = api().get(f"/api/agents/catalog-{number}")
        assert detail.status_code == 200
        assert detail.json()["name"] == listed.get(slug=f"catalog-{number}").name
    assert api().get("/api/agents/catalog-unlisted-1").status_code == 404


@pytest.mark.postgres
def test_search_vector_is_filled_and_search_finds_seeded_agents(api):
    seed("--count", "300")
    assert not bot_agents().filter(search_vector__isnull=True).exists()
    agent = bot_agents().filter(is_public=True, status__in=LISTED_STATUSES).order_by("slug").first()
    adjective, noun = agent.name.split()[:2]
    response = api().get("/api/search", {"q": f"{adjective} {noun}"})
    assert response.status_code == 200
    assert agent.slug in [hit["id"] for hit in response.json()]
