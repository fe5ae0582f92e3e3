"""HubChat's LLM providers through the real SDKs over HTTP, against fake servers speaking the real
wire formats (orchestration/tests/llm_servers.py): plans, fallback, time limits, users' own keys
(encrypted at rest, private to them), and the answer an LLM writes."""

import json
import logging
import os
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.test import Client

from accounts.log_redaction import RedactingJsonFormatter
from accounts.models import ProviderKey
from accounts.services import provider_key_create
from orchestration.hubchat.plan import PLAN_SCHEMA, Plan, Subtask
from orchestration.hubchat.providers import (
    AnthropicProvider,
    OpenAICompatibleProvider,
    OpenAIProvider,
    compose_answer,
    plan_with_providers,
    providers_for,
)
from orchestration.tests.llm_servers import (
    LLMServer,
    answer,
    garbage,
    hang,
    overloaded,
    refusal,
    status,
    text,
    trickle,
)

SKILLS = {"summarization": "3 agents; e.g. summarize", "translation": "2 agents; e.g. translate",
          "search": "1 agent; e.g. search for"}
QUERY = "Summarize this and translate the summary into Spanish: Bees pollinate a third of the food we eat."
GOOD_PLAN = {"subtasks": [
    {"skill": "summarization", "instruction": "Summarize the text",
     "input": {"text": "Bees pollinate a third of the food we eat."}, "dependsOn": []},
    {"skill": "translation", "instruction": "Translate the summary into Spanish",
     "input": {"targetLanguage": "es"}, "dependsOn": [0]},
]}
ANTHROPIC_KEY = "sk-ant-api03-platform-key-0000"
OPENAI_KEY = "sk-proj-platform-key-1111"


class Builtin:
    """The fallback planner as plan_with_providers sees it: a callable that returns a Plan."""

    def __init__(self):
        self.calls = 0

    def __call__(self) -> Plan:
        self.calls += 1
        return Plan(subtasks=(Subtask("summarization", "Summarize", {"text": "x"}),), planner="builtin",
                    notes=("The built-in planner's own note.",))


@pytest.fixture
def llm():
    with LLMServer() as server:
        yield server


@pytest.fixture
def llm2():
    with LLMServer() as server:
        yield server


@pytest.fixture
def fast(settings):
    """Short time limits, so that a hanging provider costs a test a second, not twenty."""
    settings.HUBCHAT_LLM_TIMEOUT_SECONDS = 1.0
    settings.HUBCHAT_LLM_BUDGET_SECONDS = 10.0
    return settings


def anthropic_at(server, key=ANTHROPIC_KEY, model="claude-test"):
    return AnthropicProvider(model=model, api_key=key, base_url=server.url)


def openai_at(server, key=OPENAI_KEY, model="gpt-test"):
    return OpenAIProvider(model=model, api_key=key, base_url=server.openai_url)


def compatible_at(server, model="llama3"):
    return OpenAICompatibleProvider(model=model, api_key="", base_url=server.openai_url)


def plan(providers, fallback=None, query=QUERY) -> Plan:
    return plan_with_providers(query, skills=SKILLS, providers=providers, fallback=fallback or Builtin())


def skills_and_deps(made: Plan) -> list[tuple[str, tuple[int, ...]]]:
    return [(subtask.skill, subtask.depends_on) for subtask in made.subtasks]


# --- A plan from each kind of provider, through its SDK -------------------------------------------------


def test_anthropic_plans_with_a_forced_tool_call(llm):
    # given
    llm.script(answer(GOOD_PLAN))
    fallback = Builtin()
    # when
    made = plan([anthropic_at(llm)], fallback)
    # then
    assert made.planner == "anthropic:claude-test" and made.notes == ()
    assert skills_and_deps(made) == [("summarization", ()), ("translation", (0,))]
    assert made.subtasks[1].input == {"targetLanguage": "es"}
    assert fallback.calls == 0
    sent = llm.requests[0]
    body = sent.json()
    assert sent.path == "/v1/messages" and "anthropic-version" in sent.headers
    assert LLMServer.anthropic_key(sent) == ANTHROPIC_KEY
    assert body["model"] == "claude-test" and body["messages"] == [{"role": "user", "content": QUERY}]
    assert body["tools"][0]["input_schema"] == PLAN_SCHEMA
    assert body["tool_choice"] == {"type": "tool", "name": body["tools"][0]["name"]}
    assert "- summarization: 3 agents" in body["system"] and '"targetLanguage"' in body["system"]
    assert sent.headers["x-stainless-retry-count"] == "0"


def test_openai_plans_with_a_json_schema_response_format(llm):
    llm.script(answer(GOOD_PLAN))

    made = plan([openai_at(llm)])

    assert made.planner == "openai:gpt-test"
    assert skills_and_deps(made) == [("summarization", ()), ("translation", (0,))]
    sent = llm.requests[0]
    body = sent.json()
    assert sent.path == "/v1/chat/completions" and sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == PLAN_SCHEMA
    # PLAN_SCHEMA's free-form `input` objects are outside strict mode's subset: checked on our side.
    assert body["response_format"]["json_schema"]["strict"] is False
    assert body["messages"][0]["role"] == "system" and body["messages"][1] == {"role": "user", "content": QUERY}


def test_an_openai_compatible_server_that_ignores_response_format_is_read_from_its_text(llm):
    llm.script(text(f"Sure! Here is the plan:\n```json\n{json.dumps(GOOD_PLAN, indent=2)}\n```\nAnything else?"))
    provider = compatible_at(llm)

    made = plan([provider])

    assert made.planner == provider.name == f"openai-compatible:llama3@{llm.openai_url}"
    assert skills_and_deps(made) == [("summarization", ()), ("translation", (0,))]
    body = llm.requests[0].json()
    assert body["response_format"]["json_schema"]["schema"] == PLAN_SCHEMA
    assert json.dumps(PLAN_SCHEMA) in body["messages"][0]["content"]  # the schema is in the prompt as well


def test_an_openai_compatible_server_that_refuses_response_format_is_asked_again_without_it():
    with LLMServer(rejects_response_format=True) as llm:
        llm.script(text(json.dumps(GOOD_PLAN)))

        made = plan([compatible_at(llm)])

        assert made.planner.startswith("openai-compatible:llama3@")
        assert ["response_format" in request.json() for request in llm.requests] == [True, False]


# --- Falling back ------------------------------------------------------------------------------------------


CYCLE = {"subtasks": [
    {"skill": "summarization", "instruction": "a", "input": {}, "dependsOn": [1]},
    {"skill": "translation", "instruction": "b", "input": {"targetLanguage": "es"}, "dependsOn": [0]},
]}
UNKNOWN_SKILL = {"subtasks": [{"skill": "astrology", "instruction": "Read the stars", "input": {}, "dependsOn": []}]}


FAILURES = [
    (anthropic_at, status(500), "anthropic:claude-test failed: HTTP 500 (api_error)"),
    (anthropic_at, overloaded(), "anthropic:claude-test failed: overloaded (HTTP 529)"),
    (anthropic_at, garbage(), "anthropic:claude-test failed: malformed reply"),
    (anthropic_at, text("I would summarize it, then translate it."), "failed: malformed reply (no JSON object)"),
    (anthropic_at, refusal(), "anthropic:claude-test failed: refused to answer"),
    (anthropic_at, answer(UNKNOWN_SKILL), "failed: an invalid plan (Subtask 0 asks for the skill 'astrology'"),
    (anthropic_at, answer(CYCLE), "failed: an invalid plan (Subtask 0 may depend only on earlier subtasks.)"),
    (anthropic_at, answer({"subtasks": []}), "failed: an invalid plan (The plan has no subtasks.)"),
    (anthropic_at, answer({"subtasks": "all"}), "failed: the reply does not follow the schema (type at $.subtasks)"),
    (openai_at, status(503, "server_error"), "openai:gpt-test failed: HTTP 503 (server_error)"),
    (openai_at, text("not json at all"), "openai:gpt-test failed: malformed reply (not JSON)"),
    (openai_at, refusal(), "openai:gpt-test failed: refused to answer"),
    (openai_at, answer(UNKNOWN_SKILL), "openai:gpt-test failed: an invalid plan (Subtask 0 asks for the skill"),
    (compatible_at, text("Step one: summarize. Step two: translate."), "failed: malformed reply (no JSON object)"),
]


@pytest.mark.parametrize(("make", "failure", "note"), FAILURES,
                         ids=[f"{make.__name__[:-3]}-{reply.kind}-{n}" for n, (make, reply, _) in enumerate(FAILURES)])
def test_a_failing_provider_is_noted_and_the_next_one_plans(llm, llm2, make, failure, note):
    # given
    llm.script(failure)
    llm2.script(answer(GOOD_PLAN))
    fallback = Builtin()
    # when
    made = plan([make(llm), openai_at(llm2, model="gpt-second")], fallback)
    # then
    assert made.planner == "openai:gpt-second"
    assert len(made.notes) == 1 and note in made.notes[0], made.notes
    assert fallback.calls == 0
    assert len(llm2.requests) == 1


def test_a_provider_that_hangs_times_out_and_the_next_one_plans(fast, llm, llm2):
    llm.script(hang(30))
    llm2.script(answer(GOOD_PLAN))

    started = time.monotonic()
    made = plan([anthropic_at(llm), openai_at(llm2)])
    elapsed = time.monotonic() - started

    assert made.planner == "openai:gpt-test"
    assert made.notes == ("anthropic:claude-test failed: timed out",)
    assert elapsed < 3


def test_a_provider_that_trickles_bytes_is_cut_off_at_the_call_timeout(fast, llm):
    # The SDK's own timeouts are per read: a byte every 0.1 s would keep it waiting for ever.
    llm.script(trickle())

    started = time.monotonic()
    made = plan([openai_at(llm)])

    assert made.planner == "builtin" and made.notes[0] == "openai:gpt-test failed: timed out"
    assert time.monotonic() - started < 3


def test_when_every_provider_fails_the_builtin_planner_plans_and_the_notes_say_why(llm, llm2):
    # given: Anthropic overloaded, OpenAI answering garbage, nothing listening on the third port
    llm.script(overloaded())
    llm2.script(garbage())
    with LLMServer() as gone:
        closed = compatible_at(gone, model="qwen")
    fallback = Builtin()
    # when
    made = plan([anthropic_at(llm), openai_at(llm2), closed], fallback)
    # then
    assert fallback.calls == 1
    assert made.planner == "builtin" and skills_and_deps(made) == [("summarization", ())]
    assert made.notes[0] == "anthropic:claude-test failed: overloaded (HTTP 529)"
    assert made.notes[1] == "openai:gpt-test failed: malformed reply"
    assert made.notes[2].startswith(f"{closed.name} failed: could not connect (")
    assert "Connection refused" in made.notes[2]
    assert made.notes[3:] == ("Planned by the built-in planner.", "The built-in planner's own note.")


def test_a_refused_api_key_is_a_401_and_the_next_provider_plans():
    with LLMServer(api_key="sk-ant-the-right-key-000") as llm, LLMServer() as llm2:
        llm.script(answer(GOOD_PLAN))
        llm2.script(answer(GOOD_PLAN))

        made = plan([anthropic_at(llm, key="sk-ant-a-wrong-key-0000"), openai_at(llm2)])

        assert made.planner == "openai:gpt-test"
        assert made.notes == ("anthropic:claude-test failed: the API key was refused (HTTP 401)",)
        assert "wrong-key" not in " ".join(made.notes)


def test_the_whole_planning_has_a_time_budget(settings, llm):
    # given: 1 s per call, 1.5 s in all, and three providers that would each hang
    settings.HUBCHAT_LLM_TIMEOUT_SECONDS = 1.0
    settings.HUBCHAT_LLM_BUDGET_SECONDS = 1.5
    llm.script(hang(30))
    providers = [anthropic_at(llm, model="one"), anthropic_at(llm, model="two"), anthropic_at(llm, model="three")]
    # when
    started = time.monotonic()
    made = plan(providers)
    # then: the first times out, the rest are not called, the built-in planner plans
    assert time.monotonic() - started < 2.5
    assert made.planner == "builtin"
    assert made.notes[:3] == ("anthropic:one failed: timed out",
                              "anthropic:two skipped: the time for planning ran out",
                              "anthropic:three skipped: the time for planning ran out")
    assert len(llm.requests) == 1


def test_a_request_too_long_for_an_llm_is_planned_by_the_builtin_planner(settings, llm):
    settings.HUBCHAT_LLM_MAX_QUERY_CHARS = 1000

    made = plan([anthropic_at(llm)], query="Summarize: " + "bees " * 400)

    assert made.planner == "builtin" and llm.requests == []
    assert made.notes[0] == "The request is longer than 1,000 characters: it was planned without an LLM."


def test_without_providers_the_builtin_plan_is_returned_as_it_is():
    fallback = Builtin()

    made = plan([], fallback)

    assert made == fallback()


# --- Which providers, in which order: the user's own keys first --------------------------------------------


@pytest.mark.django_db
def test_a_user_without_keys_on_a_platform_without_providers_gets_none(settings, alice):
    settings.HUBCHAT_PROVIDERS = []

    assert providers_for(alice) == []
    assert providers_for(None) == []


@pytest.mark.django_db
def test_a_users_own_key_is_tried_first_and_sent_as_the_api_key(settings, alice, bob, llm, llm2):
    # given: the platform has OpenAI; alice has her own Anthropic key
    settings.ANTHROPIC_BASE_URL = llm.url
    settings.HUBCHAT_PROVIDERS = [{"kind": "openai", "model": "gpt-platform", "api_key": OPENAI_KEY,
                                   "base_url": llm2.openai_url}]
    provider_key_create(user=alice, provider="anthropic", label="mine", api_key="sk-ant-api03-alices-own-key-42")
    llm.script(answer(GOOD_PLAN))
    llm2.script(answer(GOOD_PLAN))
    # when
    made = plan(providers_for(alice))
    # then
    mine = f"anthropic:{settings.ANTHROPIC_MODEL} (your key)"
    assert [p.name for p in providers_for(alice)] == [mine, "openai:gpt-platform"]
    assert made.planner == mine
    assert LLMServer.anthropic_key(llm.requests[0]) == "sk-ant-api03-alices-own-key-42"
    assert llm2.requests == []
    assert [p.name for p in providers_for(bob)] == ["openai:gpt-platform"]  # alice's key is hers alone


@pytest.mark.django_db
def test_when_a_users_key_fails_the_platforms_provider_plans(settings, alice, llm, llm2):
    settings.OPENAI_BASE_URL = llm.openai_url
    settings.HUBCHAT_PROVIDERS = [{"kind": "anthropic", "model": "claude-platform", "api_key": ANTHROPIC_KEY,
                                   "base_url": llm2.url}]
    provider_key_create(user=alice, provider="openai", model="gpt-4.1", api_key="sk-proj-alices-expired-key")
    llm.script(status(401, "invalid_request_error"))
    llm2.script(answer(GOOD_PLAN))

    made = plan(providers_for(alice))

    assert llm.requests[0].headers["authorization"] == "Bearer sk-proj-alices-expired-key"
    assert made.planner == "anthropic:claude-platform"
    assert made.notes == ("openai:gpt-4.1 (your key) failed: the API key was refused (HTTP 401)",)


@pytest.mark.django_db
def test_a_users_own_openai_compatible_server_gets_their_key_and_none_of_the_platforms_headers(
        monkeypatch, settings, alice, llm, llm2):
    # given: the platform's environment carries headers the OpenAI SDK sends on its own
    monkeypatch.setenv("OPENAI_ORG_ID", "org-platform")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "X-Platform-Secret: s3cret")
    provider_key_create(user=alice, provider="openai_compatible", model="mistral", base_url=llm.openai_url,
                        api_key="local-server-token-123")
    settings.HUBCHAT_PROVIDERS = [{"kind": "openai", "model": "gpt-test", "api_key": OPENAI_KEY,
                                   "base_url": llm2.openai_url}]
    llm.script(answer(GOOD_PLAN))
    llm2.script(answer(GOOD_PLAN))
    # when
    made = plan(providers_for(alice))
    platform = plan(providers_for(alice)[1:])
    # then
    assert made.planner == f"openai-compatible:mistral@{llm.openai_url} (your key)"
    sent = llm.requests[0].headers
    assert sent["authorization"] == "Bearer local-server-token-123"
    assert "openai-organization" not in sent and "x-platform-secret" not in sent
    assert platform.planner == "openai:gpt-test"  # the control: the platform's own provider does send them
    assert llm2.requests[0].headers["openai-organization"] == "org-platform"


@pytest.mark.django_db
def test_a_users_server_at_an_internal_address_is_never_called(settings, alice, llm):
    # given: the key was added while the address was allowed (development); now it is not
    provider_key_create(user=alice, provider="openai_compatible", model="m", base_url=llm.openai_url, api_key="t")
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = []
    # when
    made = plan(providers_for(alice))
    # then
    assert made.planner == "builtin" and llm.requests == []
    assert "failed: refused to call" in made.notes[0] and "internal address" in made.notes[0]


@pytest.mark.django_db
def test_a_key_that_no_longer_decrypts_is_noted_not_fatal(settings, alice, llm):
    provider_key_create(user=alice, provider="anthropic", api_key="sk-ant-api03-encrypted-under-old")
    settings.FIELD_ENCRYPTION_KEY = ["a-new-secret-that-never-encrypted-it"]

    made = plan(providers_for(alice))

    assert made.planner == "builtin"
    assert made.notes[0] == (f"anthropic:{settings.ANTHROPIC_MODEL} (your key) failed: "
                             "the stored key cannot be decrypted any more; add it again")


# --- The answer an LLM writes -------------------------------------------------------------------------------

STEPS = [
    {"skill": "summarization", "agent": "Summarizer", "result": "Bees pollinate much of our food.", "cost": "0.05"},
    {"skill": "translation", "agent": "Translator", "result": "Las abejas polinizan gran parte de nuestra comida.",
     "cost": "0.08"},
]


def test_without_providers_no_answer_is_composed():
    assert compose_answer(QUERY, STEPS, providers=[]) is None


def test_an_llm_composes_the_answer_from_the_steps_results(llm):
    llm.script(text("Las abejas polinizan gran parte de nuestra comida."))

    composed = compose_answer(QUERY, STEPS, providers=[anthropic_at(llm)])

    assert composed == ("Las abejas polinizan gran parte de nuestra comida.", "anthropic:claude-test")
    body = llm.requests[0].json()
    assert "tools" not in body
    prompt = body["messages"][0]["content"]
    assert QUERY in prompt and "Translator" in prompt and "Las abejas polinizan" in prompt


def test_the_answer_falls_back_to_the_next_provider_then_to_none(fast, llm, llm2):
    llm.script(hang(30))
    llm2.script(text("Here is your Spanish summary."))

    assert compose_answer(QUERY, STEPS, providers=[anthropic_at(llm), openai_at(llm2)]) == (
        "Here is your Spanish summary.", "openai:gpt-test")

    llm2.script(status(500))
    assert compose_answer(QUERY, STEPS, providers=[anthropic_at(llm), openai_at(llm2)]) is None


# --- A user's keys: encrypted at rest, private, never shown ---------------------------------------------------


@pytest.mark.django_db
def test_the_stored_key_is_encrypted_and_decrypts_round_trip(alice):
    raw = "sk-ant-api03-round-trip-secret-9876"

    key = provider_key_create(user=alice, provider="anthropic", label="Mine", api_key=raw)

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key_encrypted FROM {ProviderKey._meta.db_table} WHERE id = %s", [key.pk.hex
                       if connection.vendor == "sqlite" else key.pk])
        (stored,) = cursor.fetchone()
    assert raw not in stored and "round-trip" not in stored
    assert stored.startswith("gAAAAA")  # a Fernet token
    assert ProviderKey.objects.get(pk=key.pk).key() == raw
    assert key.last_four == "9876"


@pytest.mark.django_db
def test_a_new_encryption_key_can_be_rotated_in(settings, alice):
    key = provider_key_create(user=alice, provider="openai", api_key="sk-proj-before-rotation-1234")

    settings.FIELD_ENCRYPTION_KEY = ["the-new-secret", settings.SECRET_KEY]  # new first, the old one still reads

    assert ProviderKey.objects.get(pk=key.pk).key() == "sk-proj-before-rotation-1234"
    key.set_key("sk-proj-after-rotation-5678")
    key.save()
    settings.FIELD_ENCRYPTION_KEY = ["the-new-secret"]
    assert ProviderKey.objects.get(pk=key.pk).key() == "sk-proj-after-rotation-5678"


@pytest.mark.django_db
def test_the_api_stores_a_key_and_never_shows_it_again(api, alice):
    raw = "sk-ant-api03-via-the-api-abcd"

    created = api(alice).post("/api/provider-keys", {"provider": "anthropic", "label": "Work", "apiKey": raw},
                              format="json")
    listed = api(alice).get("/api/provider-keys")
    snake = api(alice).get("/api/v1/provider-keys")

    assert created.status_code == 201, created.json()
    body = created.json()
    assert set(body) == {"id", "provider", "label", "baseUrl", "model", "lastFour", "createdAt"}
    assert body["lastFour"] == "abcd" and body["provider"] == "anthropic"
    assert listed.status_code == 200 and [row["id"] for row in listed.json()] == [body["id"]]
    assert snake.json()[0]["last_four"] == "abcd"
    for response in (created, listed, snake):
        assert raw not in response.content.decode() and "via-the-api" not in response.content.decode()
    assert ProviderKey.objects.get(pk=body["id"]).key() == raw


@pytest.mark.django_db
def test_another_user_can_neither_see_nor_delete_a_key(api, alice, bob):
    key = provider_key_create(user=alice, provider="anthropic", api_key="sk-ant-api03-alice-private-key")

    seen = api(bob).get("/api/provider-keys")
    deleted = api(bob).delete(f"/api/provider-keys/{key.pk}")

    assert seen.status_code == 200 and seen.json() == []
    assert deleted.status_code == 404
    assert ProviderKey.objects.filter(pk=key.pk).exists()
    assert api(alice).delete(f"/api/provider-keys/{key.pk}").status_code == 204
    assert not ProviderKey.objects.filter(pk=key.pk).exists()
    assert api(None).get("/api/provider-keys").status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "fields"), [
    ({"provider": "anthropic"}, {"api_key"}),
    ({"provider": "openai", "apiKey": "sk-proj-x", "baseUrl": "https://example.com/v1"}, {"base_url"}),
    ({"provider": "openai_compatible", "apiKey": "x"}, {"base_url", "model"}),
    ({"provider": "openai_compatible", "model": "m", "baseUrl": "ftp://example.com/v1"}, {"base_url"}),
    ({"provider": "openai_compatible", "model": "m", "baseUrl": "javascript:alert(1)"}, {"base_url"}),
    ({"provider": "openai_compatible", "model": "m", "baseUrl": "http://127.0.0.1:1/v1?key=secret"}, {"base_url"}),
    ({"provider": "gemini", "apiKey": "x"}, {"provider"}),
    ({"provider": "anthropic", "apiKey": "sk ant with spaces"}, {"api_key"}),
])
def test_bad_keys_are_refused_naming_the_field(api, alice, body, fields):
    response = api(alice).post("/api/v1/provider-keys", {to_snake(k): v for k, v in body.items()}, format="json")

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == fields
    assert not ProviderKey.objects.exists()


@pytest.mark.django_db
def test_a_users_server_must_be_a_public_address_outside_development(api, settings, alice):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = []

    response = api(alice).post("/api/provider-keys", {"provider": "openai_compatible", "model": "llama3",
                                                      "baseUrl": "http://127.0.0.1:11434/v1"}, format="json")

    assert response.status_code == 400 and "internal address" in response.json()["error"]["fields"]["baseUrl"][0]


@pytest.mark.django_db
def test_the_number_of_keys_is_capped(api, settings, alice):
    settings.HUBCHAT_MAX_PROVIDER_KEYS = 2
    for n in range(2):
        provider_key_create(user=alice, provider="anthropic", api_key=f"sk-ant-api03-key-number-{n}")

    response = api(alice).post("/api/provider-keys", {"provider": "openai", "apiKey": "sk-proj-third"}, format="json")

    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"
    assert ProviderKey.objects.filter(user=alice).count() == 2


@pytest.mark.django_db
def test_an_api_key_cannot_manage_provider_keys(alice):
    from rest_framework.test import APIClient

    from accounts import services as accounts_services

    _, raw = accounts_services.api_key_create(user=alice, name="script", scopes=["read", "manage"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")

    assert client.get("/api/provider-keys").status_code == 403
    assert client.post("/api/provider-keys", {"provider": "openai", "apiKey": "sk-proj-x"}, format="json"
                       ).status_code == 403


@pytest.mark.django_db
def test_the_admin_shows_label_provider_and_last_four_never_the_key(alice, dave):
    raw = "sk-ant-api03-admin-must-not-see-wxyz"
    key = provider_key_create(user=alice, provider="anthropic", label="Alice at work", api_key=raw)
    client = Client()
    client.force_login(dave)

    listing = client.get("/admin/accounts/providerkey/")
    detail = client.get(f"/admin/accounts/providerkey/{key.pk}/change/")

    assert listing.status_code == 200 and detail.status_code == 200
    page = listing.content.decode()
    assert "Alice at work" in page and "wxyz" in page and "Anthropic" in page
    for response in (listing, detail):
        assert raw not in response.content.decode() and key.key_encrypted not in response.content.decode()


def test_a_provider_key_in_a_log_line_is_masked():
    formatter = RedactingJsonFormatter("%(message)s")
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "calling with %s and %s", (
        "sk-ant-api03-AbCdEfGhIjKlMnOpQrSt", "sk-proj-0123456789abcdefghij"), None)

    line = formatter.format(record)

    assert "AbCdEf" not in line and "0123456789" not in line and line.count("[redacted-llm-key]") == 2


# --- Settings ---------------------------------------------------------------------------------------------------


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _settings_in_a_fresh_process(env: dict) -> subprocess.CompletedProcess:
    code = ("import django, json; django.setup(); from django.conf import settings; "
            "print(json.dumps([{k: v for k, v in p.items() if k != 'api_key'} for p in settings.HUBCHAT_PROVIDERS]))")
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("ANTHROPIC_", "OPENAI_", "LLM_", "HUBCHAT_"))}
    return subprocess.run([sys.executable, "-c", code], env={**clean, "DJANGO_SETTINGS_MODULE": "agenthub.settings",
                                                            **env}, capture_output=True, text=True, timeout=60,
                          cwd=REPO)


def test_providers_are_configured_from_the_environment_in_order():
    default = _settings_in_a_fresh_process({})
    done = _settings_in_a_fresh_process({
        "HUBCHAT_PROVIDERS": "local,anthropic", "ANTHROPIC_API_KEY": "sk-ant-x",
        "LLM_BASE_URL": "http://127.0.0.1:11434/v1/", "LLM_MODEL": "llama3",
    })
    refused = _settings_in_a_fresh_process({"HUBCHAT_PROVIDERS": "openai"})

    assert default.returncode == 0 and default.stdout.strip().splitlines()[-1] == "[]"  # no LLM unless asked
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [
        {"kind": "openai-compatible", "model": "llama3", "base_url": "http://127.0.0.1:11434/v1"},
        {"kind": "anthropic", "model": "claude-sonnet-4-6", "base_url": "https://api.anthropic.com"},
    ]
    assert refused.returncode != 0 and "set OPENAI_API_KEY" in refused.stderr


def to_snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


# --- End to end: a HubChat message planned and answered by an LLM, run on the demo agents -----------------


@pytest.mark.django_db(transaction=True)
def test_a_hubchat_message_is_planned_and_answered_by_the_llm_with_the_failures_noted(
        api, settings, demo_agents, eve, fund, llm, llm2):
    from orchestration.models import Message, Task

    # given: Anthropic is overloaded; OpenAI plans, then writes the answer
    settings.HUBCHAT_PROVIDERS = [
        {"kind": "anthropic", "model": "claude-test", "api_key": ANTHROPIC_KEY, "base_url": llm.url},
        {"kind": "openai", "model": "gpt-test", "api_key": OPENAI_KEY, "base_url": llm2.openai_url},
    ]
    fund(eve, "10")
    llm.script(overloaded())
    llm2.script(answer(GOOD_PLAN), text("Resumen: las abejas polinizan un tercio de nuestra comida."))
    # when
    sent = api(eve).post("/api/hubchat/message", {"content": QUERY}, format="json")
    # then
    assert sent.status_code == 200, sent.json()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not Message.objects.filter(task_id=sent.json()["taskId"],
                                                                     role="assistant").exists():
        time.sleep(0.05)
    task = Task.objects.get(pk=sent.json()["taskId"])
    assert task.status == "completed", task.error
    assert task.planner == "openai:gpt-test"
    assert task.planner_notes == ["anthropic:claude-test failed: overloaded (HTTP 529)"]
    assert [(s.subtask_type, s.depends_on) for s in task.steps.order_by("position")] == [
        ("summarization", []), ("translation", [0])]
    shown = api(eve).get(f"/api/tasks/{task.pk}").json()
    assert shown["planner"] == "openai:gpt-test" and shown["plannerNotes"] == task.planner_notes
    reply = Message.objects.get(task=task, role="assistant")
    assert reply.content == "Resumen: las abejas polinizan un tercio de nuestra comida."
    # the answer's prompt carried the agents' real results
    composed = llm2.requests[-1].json()["messages"][1]["content"]
    assert "summarization by " in composed and "translation by " in composed
