"""Creating, editing, submitting and reviewing agents through the API."""

import pytest

from marketplace import services
from marketplace.models import Agent, AgentReview, AgentVersion
from marketplace.tests.factories import listed

pytestmark = pytest.mark.django_db

NEW_AGENT = {
    "name": "Contract Reviewer",
    "shortDescription": "Flags risky clauses in contracts.",
    "description": "Reads a contract and lists clauses that deviate from the playbook.",
    "businessDomain": "legal",
    "skills": ["contract_review"],
    "goals": ["Cut review time in half"],
    "tools": [{"name": "clause-db", "description": "Playbook clauses"}],
    "kpis": [{"name": "Review time", "target": "< 1 h", "current": "3 h"}],
    "transport": "http",
    "endpointUrl": "http://127.0.0.1:8001",
    "pricingModel": "per_use",
    "pricePerUse": "0.25",
    "version": "1.0.0",
    "isPublic": True,
    "configSchema": {"type": "object", "properties": {"max_tokens": {"type": "integer"}}},
}


def create(api, user, **overrides) -> dict:
    response = api(user).post("/api/agents", {**NEW_AGENT, **overrides}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_creator_makes_a_draft_they_own(api, alice):
    agent = create(api, alice)

    assert agent["id"] == "contract-reviewer"
    assert agent["status"] == "draft"
    assert agent["createdBy"] == "alice"
    assert agent["configSchema"]["properties"]["max_tokens"] == {"type": "integer"}
    stored = Agent.objects.get(slug="contract-reviewer")
    assert stored.created_by == alice and stored.tools[0]["name"] == "clause-db"
    assert str(stored.price_per_use) == "0.2500"


def test_anonymous_cannot_create(api):
    response = api().post("/api/agents", NEW_AGENT, format="json")
    assert response.status_code in (401, 403)
    assert Agent.objects.count() == 0


def test_bad_shapes_are_400_naming_each_field_and_write_nothing(api, alice):
    response = api(alice).post(
        "/api/agents",
        {**NEW_AGENT, "goals": "not a list", "tools": [{"description": "no name"}], "pricePerUse": "-1"},
        format="json",
    )

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert {"goals", "tools", "pricePerUse"} <= set(fields)
    assert Agent.objects.count() == 0


def test_duplicate_slug_is_400(api, alice, bob):
    create(api, alice, slug="taken")
    response = api(bob).post("/api/agents", {**NEW_AGENT, "slug": "taken"}, format="json")
    assert response.status_code == 400
    assert "slug" in response.json()["error"]["fields"]


def test_full_lifecycle(api, alice, carol):
    slug = create(api, alice)["id"]

    submitted = api(alice).post(f"/api/agents/{slug}/submit")
    assert submitted.status_code == 200, submitted.json()
    assert submitted.json()["status"] == "submitted"
    assert AgentVersion.objects.get(agent__slug=slug).number == "1.0.0"

    approved = api(carol).post(f"/api/agents/{slug}/approve", {"reason": "Looks good"}, format="json")
    assert approved.status_code == 200, approved.json()
    assert approved.json()["reviewer"] == "carol"
    agent = Agent.objects.get(slug=slug)
    assert agent.status == "approved" and agent.current_version.number == "1.0.0"

    assert api(alice).post(f"/api/agents/{slug}/activate").json()["status"] == "active"
    assert slug in [item["id"] for item in api().get("/api/agents").json()]
    assert api(alice).post(f"/api/agents/{slug}/deactivate").json()["status"] == "inactive"
    assert api(alice).post(f"/api/agents/{slug}/activate").json()["status"] == "active"

    detail = api(alice).get(f"/api/agents/{slug}").json()
    assert detail["reviews"][0]["decision"] == "approved" and detail["reviews"][0]["reviewer"] == "carol"


def test_rejection_needs_a_reason_then_edit_returns_to_draft(api, alice, carol):
    slug = create(api, alice)["id"]
    api(alice).post(f"/api/agents/{slug}/submit")

    no_reason = api(carol).post(f"/api/agents/{slug}/reject", {}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]["fields"]
    assert Agent.objects.get(slug=slug).status == "submitted"

    rejected = api(carol).post(f"/api/agents/{slug}/reject", {"reason": "Endpoint is flaky"}, format="json")
    assert rejected.status_code == 200
    assert AgentReview.objects.get(agent__slug=slug).reason == "Endpoint is flaky"
    assert Agent.objects.get(slug=slug).status == "rejected"

    # resubmitting as is: must be edited (back to draft) first
    assert api(alice).post(f"/api/agents/{slug}/submit").status_code == 409
    edited = api(alice).patch(f"/api/agents/{slug}", {"endpointUrl": "http://127.0.0.1:8002"}, format="json")
    assert edited.status_code == 200 and edited.json()["status"] == "draft"
    assert api(alice).post(f"/api/agents/{slug}/submit").status_code == 200
    assert AgentVersion.objects.filter(agent__slug=slug).count() == 2


@pytest.mark.parametrize(
    "status, action",
    [
        ("draft", "approve"), ("draft", "reject"), ("draft", "activate"), ("draft", "deactivate"),
        ("submitted", "submit"), ("submitted", "activate"),
        ("approved", "submit"), ("approved", "approve"), ("approved", "reject"),
        ("active", "submit"), ("active", "approve"), ("active", "activate"),
        ("inactive", "deactivate"), ("inactive", "approve"), ("rejected", "submit"), ("rejected", "approve"),
        ("rejected", "activate"),
    ],
)
def test_forbidden_transitions_are_409(api, alice, dave, make_agent, status, action):
    agent = make_agent(created_by=alice, status=status, is_public=True)
    actor = dave if action in ("approve", "reject") else alice  # staff: sees drafts too

    response = api(actor).post(f"/api/agents/{agent.slug}/{action}", {"reason": "because"}, format="json")

    assert response.status_code == 409, response.json()
    assert response.json()["error"]["code"] == "invalid_transition"
    agent.refresh_from_db()
    assert agent.status == status


def test_creator_cannot_approve_and_reviewer_cannot_approve_own(api, alice, make_user, make_agent):
    reviewer_who_creates = make_user("rita", reviewer=True)
    alices = make_agent(created_by=alice)
    ritas = make_agent(created_by=reviewer_who_creates)
    services.agent_submit(agent=alices, user=alice)
    services.agent_submit(agent=ritas, user=reviewer_who_creates)

    assert api(alice).post(f"/api/agents/{alices.slug}/approve").status_code == 403
    own = api(reviewer_who_creates).post(f"/api/agents/{ritas.slug}/approve")
    assert own.status_code == 403
    assert "own" in own.json()["error"]["message"]
    assert not AgentReview.objects.exists()
    assert api(reviewer_who_creates).post(f"/api/agents/{alices.slug}/approve").status_code == 200


def test_editing_while_under_review_is_409(api, alice, make_agent):
    agent = make_agent(created_by=alice, status="submitted")
    response = api(alice).patch(f"/api/agents/{agent.slug}", {"name": "Renamed"}, format="json")
    assert response.status_code == 409
    assert Agent.objects.get(pk=agent.pk).name == agent.name


def test_live_agent_keeps_reviewed_fields_but_may_change_description(api, alice):
    agent = listed(created_by=alice)
    price = api(alice).patch(f"/api/agents/{agent.slug}", {"pricePerUse": "9.99"}, format="json")
    assert price.status_code == 409 and "pricePerUse" in price.json()["error"]["fields"]
    text = api(alice).patch(f"/api/agents/{agent.slug}", {"shortDescription": "Sharper."}, format="json")
    assert text.status_code == 200 and text.json()["shortDescription"] == "Sharper."


def test_only_owner_or_staff_edit_and_delete(api, alice, bob, dave):
    agent = listed(created_by=alice)
    assert api(bob).patch(f"/api/agents/{agent.slug}", {"name": "Hijacked"}, format="json").status_code == 403
    assert api(bob).delete(f"/api/agents/{agent.slug}").status_code == 403
    agent.refresh_from_db()
    assert agent.name != "Hijacked"
    assert api(dave).patch(f"/api/agents/{agent.slug}", {"name": "Staff edit"}, format="json").status_code == 200
    agent.refresh_from_db()
    assert agent.name == "Staff edit" and agent.updated_by == dave


def test_delete_removes_unused_agent_but_deactivates_one_that_ran(api, alice, make_agent):
    unused = make_agent(created_by=alice)
    used = listed(created_by=alice, total_executions=3)

    assert api(alice).delete(f"/api/agents/{unused.slug}").status_code == 204
    assert not Agent.objects.filter(pk=unused.pk).exists()
    kept = api(alice).delete(f"/api/agents/{used.slug}")
    assert kept.status_code == 200
    used.refresh_from_db()
    assert used.status == "inactive" and not used.is_public
