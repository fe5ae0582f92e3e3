"""Registering an Agent2Agent agent from its card, then running it like any other agent."""

import pytest

from marketplace import services as catalog
from marketplace.models import Agent
from orchestration import outbound
from orchestration.tests.a2a_server import A2AServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _allow_loopback(settings):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["127.0.0.1", "localhost"]
    outbound.close_pools()


@pytest.fixture(scope="module")
def a2a_agent():
    with A2AServer(name="Shouting Agent") as server:
        yield server


def register(api, user, url):
    return api(user).post("/api/agents/register", {"cardUrl": url}, format="json")


def test_registering_a_card_creates_a_draft_from_it(api, alice, a2a_agent):
    response = register(api, alice, a2a_agent.url)

    assert response.status_code == 201, response.json()
    agent = response.json()
    assert agent["name"] == "Shouting Agent" and agent["status"] == "draft" and agent["transport"] == "a2a"
    assert "shout" in agent["skills"] and agent["endpointUrl"].startswith("http://127.0.0.1:")
    assert agent["createdBy"] == "alice"
    assert Agent.objects.get(slug=agent["id"]).protocol_version == "1.0"
    assert register(api, alice, a2a_agent.url).json()["id"] != agent["id"]  # a second copy gets its own id


def test_an_a2a_agent_runs_through_the_protocol(api, alice, eve, dave, a2a_agent):
    slug = register(api, alice, a2a_agent.url).json()["id"]
    agent = Agent.objects.get(slug=slug)
    Agent.objects.filter(pk=agent.pk).update(status="active", is_public=True)

    run = api(eve).post(f"/api/agents/{slug}/execute?wait=10", {"input": {"text": "hello there"}}, format="json")

    assert run.status_code == 200, run.json()
    assert run.json()["status"] == "completed"
    assert "HELLO THERE" in str(run.json()["output"])


def test_unreadable_or_unsafe_cards_are_400(api, alice, settings):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = []
    response = register(api, alice, "http://127.0.0.1:9/")
    assert response.status_code == 400 and "cardUrl" in response.json()["error"]["fields"]
    assert register(api, alice, "not a url").status_code == 400
    assert api().post("/api/agents/register", {"cardUrl": "https://example.com"}, format="json").status_code == 401
    assert not Agent.objects.exists()


def test_register_is_not_an_agent_id(api, alice):
    response = api(alice).post("/api/agents", {"name": "Register", "slug": "register"}, format="json")
    assert response.status_code == 400
    assert catalog.agent_create(user=alice, data={"name": "Register"}).slug != "register"
