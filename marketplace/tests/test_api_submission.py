"""What stops a submission: each bad agent is answered 400 naming the field, and the errors are kept."""

from decimal import Decimal

import pytest

from agenthub.api.dialect import camel_to_snake_key
from marketplace.models import Agent, AgentVersion

pytestmark = pytest.mark.django_db

BAD_SUBMISSIONS = {
    "invalid JSON Schema": ({"config_schema": {"type": "objekt"}}, "configSchema"),
    "remote $ref": (
        {"config_schema": {"type": "object", "properties": {"x": {"$ref": "https://schemas.example.com/x.json"}}}},
        "configSchema",
    ),
    "file $ref": ({"config_schema": {"$ref": "file:///etc/passwd"}}, "configSchema"),
    "catastrophic pattern": (
        {"config_schema": {"type": "object", "properties": {"name": {"type": "string", "pattern": "^(a+)+$"}}}},
        "configSchema",
    ),
    "lookaround pattern": (
        {"config_schema": {"type": "object", "patternProperties": {"(?=x)y": {"type": "string"}}}},
        "configSchema",
    ),
    "loopback endpoint": ({"endpoint_url": "http://127.0.0.2:8080"}, "endpointUrl"),
    "private endpoint": ({"endpoint_url": "http://10.1.2.3/agent"}, "endpointUrl"),
    "metadata endpoint": ({"endpoint_url": "http://169.254.169.254/latest/meta-data"}, "endpointUrl"),
    "decimal-encoded loopback": ({"endpoint_url": "http://2130706433/"}, "endpointUrl"),
    "hex-encoded loopback": ({"endpoint_url": "http://0x7f.0.0.1/"}, "endpointUrl"),
    "mapped IPv6 loopback": ({"endpoint_url": "http://[::ffff:127.0.0.1]/"}, "endpointUrl"),
    "not http": ({"endpoint_url": "ftp://files.example.com/agent"}, "endpointUrl"),
    "free with a price": ({"pricing_model": "free", "price_per_use": Decimal("1")}, "pricePerUse"),
    "per use without a price": ({"pricing_model": "per_use", "price_per_use": Decimal("0")}, "pricePerUse"),
    "subscription without monthly price": (
        {"pricing_model": "subscription", "price_per_use": Decimal("0"), "monthly_price": Decimal("0")},
        "monthlyPrice",
    ),
    "bad entry point": ({"transport": "hosted", "entry_point": "rm -rf /"}, "entryPoint"),
    "hosted without entry point": ({"transport": "hosted", "entry_point": ""}, "entryPoint"),
    "not semver": ({"version": "v1"}, "version"),
    "no skills": ({"skills": []}, "skills"),
}


@pytest.mark.parametrize("case", BAD_SUBMISSIONS, ids=list(BAD_SUBMISSIONS))
def test_bad_submission_is_400_naming_the_field(api, alice, make_agent, settings, case):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["localhost"]  # 127.0.0.1 itself is not exempt here
    overrides, field = BAD_SUBMISSIONS[case]
    agent = make_agent(created_by=alice, **{"endpoint_url": "http://localhost:8001", **overrides})

    response = api(alice).post(f"/api/agents/{agent.slug}/submit")

    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"], response.json()
    agent.refresh_from_db()
    assert agent.status == "draft"
    assert not AgentVersion.objects.filter(agent=agent).exists()
    assert camel_to_snake_key(field) in {error["field"] for error in agent.validation_errors}


def test_errors_are_cleared_once_the_agent_is_fixed(api, alice, make_agent):
    agent = make_agent(created_by=alice, version="one")
    assert api(alice).post(f"/api/agents/{agent.slug}/submit").status_code == 400
    assert api(alice).get(f"/api/agents/{agent.slug}").json()["validationErrors"][0]["field"] == "version"

    api(alice).patch(f"/api/agents/{agent.slug}", {"version": "1.0.1"}, format="json")
    response = api(alice).post(f"/api/agents/{agent.slug}/submit")

    assert response.status_code == 200
    assert response.json()["validationErrors"] == []
    assert Agent.objects.get(pk=agent.pk).status == "submitted"


def test_allowed_internal_host_may_be_used(api, alice, make_agent, settings):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["127.0.0.1"]
    agent = make_agent(created_by=alice, endpoint_url="http://127.0.0.1:8004")
    assert api(alice).post(f"/api/agents/{agent.slug}/submit").status_code == 200


def test_local_refs_and_safe_patterns_are_fine(api, alice, make_agent):
    schema = {
        "$defs": {"lang": {"type": "string", "pattern": "^[a-z]{2}(-[A-Z]{2})?$"}},
        "type": "object",
        "properties": {"target": {"$ref": "#/$defs/lang"}, "max_tokens": {"type": "integer", "minimum": 1}},
    }
    agent = make_agent(created_by=alice, config_schema=schema)
    assert api(alice).post(f"/api/agents/{agent.slug}/submit").status_code == 200


def test_only_the_owner_submits(api, alice, bob, make_agent):
    agent = make_agent(created_by=alice, is_public=True, status="draft")
    assert api(bob).post(f"/api/agents/{agent.slug}/submit").status_code == 404
