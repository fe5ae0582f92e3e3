"""Under /api/ every answer is JSON, errors included, in one shape; and the two dialects and pagination."""

import json
import re
from urllib.parse import parse_qsl, urlsplit

import pytest

from marketplace.models import Agent
from marketplace.tests.factories import listed

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


def post_raw(client, path: str, body: str | bytes, content_type: str = "application/json"):
    return client.generic("POST", path, body, content_type=content_type)


# --- Malformed input ----------------------------------------------------------------------


def test_malformed_json_is_400(api, alice):
    response = post_raw(api(alice), "/api/agents", '{"name": "x",')

    error = assert_error(response, 400, "parse_error")
    assert "Malformed JSON" in error["message"]
    assert not Agent.objects.exists()


@pytest.mark.parametrize("depth", [33, 100, 10_000])
def test_json_nested_too_deep_is_400(api, alice, depth):
    body = '{"name": "deep", "configSchema": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"

    response = post_raw(api(alice), "/api/agents", body)

    error = assert_error(response, 400, "parse_error")
    assert "nested deeper than 32 levels" in error["message"]
    assert not Agent.objects.exists()


def test_json_nested_32_levels_is_parsed(api, alice):
    body = "[" * 32 + "]" * 32  # as deep as allowed; a list is then the wrong shape for an agent

    response = post_raw(api(alice), "/api/agents", body)

    error = assert_error(response, 400)
    assert "nested" not in error["message"]


def test_body_over_the_size_limit_is_413(api, alice, settings):
    body = json.dumps({"name": "big", "description": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})

    response = post_raw(api(alice), "/api/agents", body)

    error = assert_error(response, 413, "payload_too_large")
    assert str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) in error["message"]
    assert not Agent.objects.exists()


def test_the_size_limit_is_a_setting(api, alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048

    small = post_raw(api(alice), "/api/agents", json.dumps({"name": "Small", "description": "x" * 1000}))
    big = post_raw(api(alice), "/api/agents", json.dumps({"name": "Big", "description": "x" * 3000}))

    assert small.status_code == 201
    assert_error(big, 413, "payload_too_large")


def test_wrong_content_type_is_415(api, alice):
    response = post_raw(api(alice), "/api/agents", "name=x", content_type="text/plain")

    error = assert_error(response, 415, "unsupported_media_type")
    assert "text/plain" in error["message"]


# --- Django's own errors, as JSON -----------------------------------------------------------


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("path", ["/api/no-such-thing", "/api/v1/no-such-thing", "/api/agents/x/y/z"])
def test_unknown_api_path_is_404_json(api, settings, debug, path):
    settings.DEBUG = debug

    response = api().get(path)

    assert_error(response, 404, "not_found")


def test_unknown_agent_is_404_json(api):
    assert_error(api().get("/api/agents/nobody-made-this"), 404, "not_found")


@pytest.mark.parametrize(("method", "path"), [("delete", "/api/health"), ("put", "/api/analytics/stats"),
                                              ("post", "/api/search")])
def test_wrong_method_is_405_json(api, alice, method, path):
    response = getattr(api(alice), method)(path)

    error = assert_error(response, 405, "method_not_allowed")
    assert method.upper() in error["message"]
    assert method.upper() not in response["Allow"]


@pytest.mark.urls("agenthub.tests.urls")
@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("path", ["/api/test/drf-boom", "/api/test/django-boom"])
def test_unhandled_exception_is_500_json_without_a_traceback(api, settings, caplog, debug, path):
    settings.DEBUG = debug

    response = api().get(path)

    error = assert_error(response, 500, "server_error")
    assert error["message"] == "Internal server error."
    assert b"hunter2" not in response.content and b"Traceback" not in response.content
    # ... while the server's own log has the whole story
    [record] = [r for r in caplog.records if r.exc_info and "hunter2" in str(r.exc_info[1])]
    assert record.levelname == "ERROR"


def test_pages_outside_the_api_keep_their_html_errors(client):
    response = client.get("/no-such-page-anywhere")

    assert response.status_code == 404
    assert "json" not in response["Content-Type"]


# --- Validation names the field, in the client's dialect ------------------------------------


def test_validation_error_names_the_field(api, alice):
    response = api(alice).post("/api/agents", {"name": ""}, format="json")

    error = assert_error(response, 400, "invalid")
    assert "name" in error["fields"]
    assert "name" in error["message"]
    assert not Agent.objects.exists()


def test_field_names_in_errors_follow_the_dialect(api, alice):
    too_long = "x" * 501

    camel = api(alice).post("/api/agents", {"name": "A", "shortDescription": too_long}, format="json")
    snake = api(alice).post("/api/v1/agents", {"name": "A", "short_description": too_long}, format="json")

    assert list(assert_error(camel, 400, "invalid")["fields"]) == ["shortDescription"]
    assert list(assert_error(snake, 400, "invalid")["fields"]) == ["short_description"]


# --- The two dialects -------------------------------------------------------------------------


def test_same_agent_in_camel_case_and_snake_case(api, alice):
    listed(created_by=alice, slug="summarizer", short_description="Short and sweet.", avg_response_time=850)

    camel = api().get("/api/agents/summarizer").json()
    snake = api().get("/api/v1/agents/summarizer").json()

    assert camel["shortDescription"] == snake["short_description"] == "Short and sweet."
    assert camel["avgResponseTime"] == snake["avg_response_time"] == 850
    assert "short_description" not in camel and "shortDescription" not in snake
    assert {key for key in camel if "_" in key} == set()


def test_camel_case_request_bodies_are_accepted_on_api(api, alice):
    response = api(alice).post(
        "/api/agents",
        {"name": "Camel", "shortDescription": "Written in camelCase.", "businessDomain": "finance",
         "pricingModel": "per_use", "pricePerUse": "0.25"},
        format="json",
    )

    assert response.status_code == 201, response.content
    agent = Agent.objects.get(slug=response.json()["id"])
    assert agent.short_description == "Written in camelCase."
    assert agent.business_domain == "finance"
    assert str(agent.price_per_use) == "0.2500"


def test_snake_case_request_bodies_are_accepted_on_v1(api, alice):
    response = api(alice).post(
        "/api/v1/agents", {"name": "Snake", "short_description": "Written in snake_case."}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["short_description"] == "Written in snake_case."
    assert Agent.objects.get(slug=response.json()["id"]).short_description == "Written in snake_case."


def test_config_schema_contents_are_never_rewritten(api, alice):
    schema = {
        "type": "object",
        "properties": {"max_tokens": {"type": "integer"}, "topP": {"type": "number"},
                       "nested_thing": {"type": "object", "properties": {"inner_key": {"type": "string"}}}},
        "required": ["max_tokens"],
    }

    created = api(alice).post("/api/agents", {"name": "Configurable", "configSchema": schema}, format="json")

    assert created.status_code == 201, created.content
    slug = created.json()["id"]
    assert Agent.objects.get(slug=slug).config_schema == schema
    assert created.json()["configSchema"] == schema
    assert api(alice).get(f"/api/agents/{slug}").json()["configSchema"] == schema
    assert api(alice).get(f"/api/v1/agents/{slug}").json()["config_schema"] == schema


# --- Pagination -------------------------------------------------------------------------------


def ids(response) -> list[str]:
    return [item["id"] for item in response.json()]


def links(response) -> dict[str, dict[str, str]]:
    """The Link header as {rel: query parameters of its URL}."""
    found = {}
    for part in filter(None, response.get("Link", "").split(", ")):
        match = re.fullmatch(r'<([^>]+)>; rel="(\w+)"', part)
        assert match, part
        url = urlsplit(match[1])
        assert (url.scheme, url.netloc, url.path) == ("http", "testserver", response.wsgi_request.path)
        found[match[2]] = dict(parse_qsl(url.query))
    return found


def test_lists_are_arrays_with_total_and_link_headers(api, alice):
    for n in range(5):
        listed(created_by=alice, slug=f"agent-{n}", name=f"Agent {n}")

    first = api().get("/api/agents?ordering=name&limit=2")
    middle = api().get("/api/agents?ordering=name&limit=2&offset=2")
    last = api().get("/api/agents?ordering=name&limit=2&offset=4")

    assert isinstance(first.json(), list)
    assert ids(first) == ["agent-0", "agent-1"] and ids(middle) == ["agent-2", "agent-3"] and ids(last) == ["agent-4"]
    assert first["X-Total-Count"] == middle["X-Total-Count"] == last["X-Total-Count"] == "5"
    assert links(first) == {"next": {"ordering": "name", "limit": "2", "offset": "2"}}
    assert links(middle) == {"next": {"ordering": "name", "limit": "2", "offset": "4"},
                             "prev": {"ordering": "name", "limit": "2", "offset": "0"}}
    assert links(last) == {"prev": {"ordering": "name", "limit": "2", "offset": "2"}}


def test_limit_is_capped_at_100(api, alice):
    Agent.objects.bulk_create(
        [Agent(slug=f"bulk-{n:03d}", name=f"Bulk {n:03d}", status="active", is_public=True, created_by=alice)
         for n in range(101)]
    )

    response = api().get("/api/agents?ordering=name&limit=500")

    assert len(response.json()) == 100
    assert response["X-Total-Count"] == "101"
    assert links(response)["next"] == {"ordering": "name", "limit": "100", "offset": "100"}
    assert len(api().get("/api/agents").json()) == 50  # the default page


def test_skip_is_offset(api, alice):
    for n in range(4):
        listed(created_by=alice, slug=f"agent-{n}", name=f"Agent {n}")

    by_skip = api().get("/api/v1/agents?ordering=name&limit=2&skip=2")
    by_offset = api().get("/api/v1/agents?ordering=name&limit=2&offset=2")

    assert ids(by_skip) == ids(by_offset) == ["agent-2", "agent-3"]
    assert links(by_skip) == links(by_offset) == {"prev": {"ordering": "name", "limit": "2", "offset": "0"}}


@pytest.mark.parametrize(("query", "field"), [("limit=abc", "limit"), ("limit=0", "limit"), ("offset=-1", "offset"),
                                              ("skip=two", "skip"), ("offset=1.5", "offset")])
def test_bad_pagination_parameters_are_400_naming_them(api, query, field):
    response = api().get(f"/api/agents?{query}")

    error = assert_error(response, 400, "invalid")
    assert list(error["fields"]) == [field]
