"""Hiring agents through the API (seed 002's hirings)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from marketplace import hirings
from marketplace.models import Agent, Hiring
from marketplace.tests.factories import agent_make, listed

pytestmark = pytest.mark.django_db

SCHEMA = {
    "type": "object",
    "properties": {
        "language": {"type": "string", "enum": ["en", "es", "fr"]},
        "limits": {"type": "object", "properties": {"maxWords": {"type": "integer", "minimum": 1}}},
    },
    "required": ["language"],
    "additionalProperties": False,
}


@pytest.fixture
def agent(alice):
    return listed(created_by=alice, slug="summarizer", config_schema=SCHEMA)


def hire(api, user, **body):
    return api(user).post("/api/hirings", body, format="json")


def test_hiring_an_agent_with_a_valid_config(api, eve, agent):
    response = hire(api, eve, agent="summarizer", config={"language": "es", "limits": {"maxWords": 50}})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["agent"] == "summarizer"
    assert body["status"] == "active"
    assert body["billingCycle"] == "per_use"
    assert body["config"] == {"language": "es", "limits": {"maxWords": 50}}  # keys kept as sent
    assert body["totalExecutions"] == 0 and body["expiresAt"] is None
    assert Agent.objects.get(pk=agent.pk).total_hires == 1
    assert api(eve).get(f"/api/hirings/{body['id']}").json()["id"] == body["id"]


def test_each_config_violation_is_reported_with_its_json_path(api, eve, agent):
    response = hire(api, eve, agent="summarizer", config={"language": "de", "limits": {"maxWords": 0}, "x": 1})

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"config.language", "config.limits.maxWords", "config"}
    assert "'de' is not one of" in fields["config.language"][0]
    assert not Hiring.objects.exists()


def test_config_must_be_an_object_and_required_keys_present(api, eve, agent):
    assert hire(api, eve, agent="summarizer", config=[1]).status_code == 400
    response = hire(api, eve, agent="summarizer", config={})
    assert response.status_code == 400
    assert "'language' is a required property" in response.json()["error"]["fields"]["config"][0]


def test_only_live_agents_can_be_hired(api, eve, alice):
    agent_make(created_by=alice, slug="draft-one", is_public=True)
    assert hire(api, eve, agent="draft-one").status_code == 404  # a draft is not visible to others
    assert hire(api, alice, agent="draft-one").status_code == 409  # its creator sees it, but cannot hire it
    assert hire(api, eve, agent="no-such-agent").status_code == 404


def test_hiring_twice_while_active_is_a_conflict(api, eve, agent):
    assert hire(api, eve, agent="summarizer", config={"language": "en"}).status_code == 201
    response = hire(api, eve, agent="summarizer", config={"language": "en"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_hired"


def test_cancel_then_hire_again(api, eve, agent):
    hiring_id = hire(api, eve, agent="summarizer", config={"language": "en"}).json()["id"]

    cancelled = api(eve).post(f"/api/hirings/{hiring_id}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["cancelledAt"]
    assert api(eve).post(f"/api/hirings/{hiring_id}/cancel").status_code == 409
    assert hire(api, eve, agent="summarizer", config={"language": "en"}).status_code == 201


def test_a_subscription_is_paid_monthly_and_suspended_when_a_month_cannot_be_paid(api, eve, alice, fund):
    from billing.services import account_for

    listed(created_by=alice, slug="monthly", pricing_model="subscription", monthly_price=Decimal("9.0000"))
    refused = hire(api, eve, agent="monthly")
    assert refused.status_code == 402 and not Hiring.objects.exists()  # the first month is paid up front
    fund(eve, "20")

    body = hire(api, eve, agent="monthly").json()

    assert body["billingCycle"] == "monthly" and body["expiresAt"] and body["nextBillingDate"]
    assert account_for(user=eve).balance == Decimal("11")
    assert hire(api, eve, agent="monthly", billingCycle="per_use").status_code in (400, 409)

    hirings.hirings_expire(now=timezone.now() + timedelta(days=31))  # month two: renewed
    assert Hiring.objects.get(pk=body["id"]).status == "active" and account_for(user=eve).balance == Decimal("2")
    assert hirings.hirings_renew(now=timezone.now() + timedelta(days=31)) == {"renewed": 0, "suspended": 0}

    hirings.hirings_expire(now=timezone.now() + timedelta(days=61))  # month three: 2 BB left, suspended
    assert Hiring.objects.get(pk=body["id"]).status == "suspended" and account_for(user=eve).balance == Decimal("2")


def test_lists_are_yours_and_filterable(api, eve, bob, agent, alice):
    listed(created_by=alice, slug="other")
    hire(api, eve, agent="summarizer", config={"language": "en"})
    hire(api, eve, agent="other")
    hire(api, bob, agent="other")

    assert len(api(eve).get("/api/hirings").json()) == 2
    assert [h["agent"] for h in api(eve).get("/api/hirings?agent=other").json()] == ["other"]
    assert api(eve).get("/api/hirings?status=cancelled").json() == []
    assert api().get("/api/hirings").status_code == 401


def test_snake_case_dialect(api, eve, agent):
    response = api(eve).post("/api/v1/hirings", {"agent": "summarizer", "config": {"language": "en"},
                                                 "billing_cycle": "per_use"}, format="json")
    assert response.status_code == 201
    assert "billing_cycle" in response.json() and "total_executions" in response.json()
