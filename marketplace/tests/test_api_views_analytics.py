"""Views (seed 000), the analytics endpoints and the periodic trending job."""

from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.models import Agent, AgentView
from marketplace.tasks import refresh_trending_scores
from marketplace.tests.factories import listed

pytestmark = pytest.mark.django_db


def test_one_view_per_session_per_30_minutes(api, alice):
    agent = listed(created_by=alice, slug="summarizer")
    client = api()

    first = client.post("/api/agents/summarizer/view", {"sessionId": "s-1"}, format="json")
    again = client.post("/api/agents/summarizer/view", {"sessionId": "s-1"}, format="json")
    other = client.post("/api/v1/agents/summarizer/view", {"session_id": "s-2"}, format="json")

    assert first.status_code == 200 and first.json()["viewCount"] == 1
    assert again.json()["viewCount"] == 1 and "already" in again.json()["message"].lower()
    assert other.json()["view_count"] == 2
    assert AgentView.objects.filter(agent=agent).count() == 2

    AgentView.objects.filter(session_id="s-1").update(viewed_at=timezone.now() - timedelta(minutes=31))
    assert client.post("/api/agents/summarizer/view", {"sessionId": "s-1"}, format="json").json()["viewCount"] == 3
    assert Agent.objects.get(pk=agent.pk).view_count == 3


def test_without_session_id_the_session_cookie_counts(api, alice, bob):
    listed(created_by=alice, slug="translator")
    client = api(bob)

    first = client.post("/api/agents/translator/view")
    assert first.status_code == 200 and "sessionid" in first.cookies
    client.post("/api/agents/translator/view")
    assert Agent.objects.get(slug="translator").view_count == 1
    assert AgentView.objects.get().user == bob

    api().post("/api/agents/translator/view")  # a new client, a new session
    assert Agent.objects.get(slug="translator").view_count == 2


def test_viewing_an_invisible_agent_is_404(api, alice, make_agent):
    draft = make_agent(created_by=alice)
    assert api().post(f"/api/agents/{draft.slug}/view", {"sessionId": "x"}, format="json").status_code == 404
    assert not AgentView.objects.exists()


def _views(agent, *, days_ago: float, count: int):
    moment = timezone.now() - timedelta(days=days_ago)
    AgentView.objects.bulk_create(
        AgentView(agent=agent, session_id=f"{agent.slug}-{days_ago}-{n}", viewed_at=moment) for n in range(count)
    )


def test_stats_counts_known_data(api, alice, bob, make_agent):
    live = listed(created_by=alice, total_hires=3, total_executions=10)
    listed(created_by=bob, total_hires=1, total_executions=5, status="approved")
    make_agent(created_by=bob)
    make_agent(created_by=bob, status="submitted")
    _views(live, days_ago=1, count=4)

    stats = api().get("/api/analytics/stats").json()

    assert stats["totalAgents"] == 4 and stats["listedAgents"] == 2
    assert stats["agentsByStatus"] == {"draft": 1, "submitted": 1, "approved": 1, "rejected": 0, "active": 1,
                                       "inactive": 0}
    assert stats["totalViews"] == 4
    assert stats["totalHires"] == 4 and stats["totalExecutions"] == 15
    assert stats["totalUsers"] == 2
    assert api().get("/api/v1/analytics/stats").json()["total_agents"] == 4


def test_trending_weighs_recent_views_higher(api, alice, make_agent):
    recent = listed(created_by=alice, slug="recent", name="Recent")
    old = listed(created_by=alice, slug="old", name="Old")
    hidden = make_agent(created_by=alice, slug="draft")
    _views(recent, days_ago=0.1, count=5)  # 5 views today
    _views(old, days_ago=6, count=8)  # 8 views six days ago
    _views(old, days_ago=20, count=50)  # outside the window
    _views(hidden, days_ago=0.1, count=99)  # not listed

    trending = api().get("/api/analytics/trending?days=7").json()

    assert [row["id"] for row in trending] == ["recent", "old"]
    assert trending[0]["views"] == 5 and trending[1]["views"] == 8
    # weight falls linearly from 1 (now) to 0 (7 days ago), by the hour
    assert trending[0]["score"] == pytest.approx(5 * (1 - 2.4 / 168), abs=0.05)
    assert trending[1]["score"] == pytest.approx(8 * (1 - 144 / 168), abs=0.1)
    wider = api().get("/api/v1/analytics/trending?days=30").json()
    assert wider[0]["id"] == "old" and wider[0]["views"] == 58


def test_trending_rejects_bad_days(api):
    response = api().get("/api/analytics/trending?days=0")
    assert response.status_code == 400 and "days" in response.json()["error"]["fields"]


def test_by_domain(api, alice, make_agent):
    listed(created_by=alice, business_domain="finance", rating=4.0, view_count=10)
    listed(created_by=alice, business_domain="finance", rating=5.0, view_count=5)
    listed(created_by=alice, business_domain="legal", rating=3.0, view_count=1)
    make_agent(created_by=alice, business_domain="legal")  # a draft does not count

    rows = api().get("/api/analytics/by-domain").json()

    assert rows == [
        {"domain": "finance", "count": 2, "views": 15, "averageRating": 4.5},
        {"domain": "legal", "count": 1, "views": 1, "averageRating": 3.0},
    ]


def test_periodic_job_orders_the_catalog_by_trending(api, alice):
    steady = listed(created_by=alice, slug="steady")
    hot = listed(created_by=alice, slug="hot")
    _views(steady, days_ago=5, count=3)
    _views(hot, days_ago=0.5, count=3)

    refresh_trending_scores.delay()
    refresh_trending_scores.delay()  # delivered twice: same result

    assert [a["id"] for a in api().get("/api/agents?ordering=trending").json()] == ["hot", "steady"]
    assert Agent.objects.get(slug="hot").trending_score == pytest.approx(3 * (1 - 12 / 168), abs=0.05)
