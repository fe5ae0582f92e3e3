"""The a2a transport against a real A2A server built with the official `a2a-sdk` (protocol 1.0,
and 0.3 through the SDK's compatibility layer), plus hand-written JSON-RPC peers for what the
SDK server does not do on request (tasks that stay running, malformed replies)."""

import json
import time
from decimal import Decimal

import pytest

from orchestration import outbound
from orchestration.tests.local_peers import Answer, Peer
from orchestration.transports import (
    CallRequest,
    CallTimeout,
    PermanentCallError,
    Target,
    TransientCallError,
    call,
    health,
)
from orchestration.transports.a2a import (
    A2AProtocolError,
    InvalidAgentCard,
    agent_fields_from_card,
    fetch_agent_card,
)

pytest.importorskip("uvicorn")
A2AServer = pytest.importorskip("orchestration.tests.a2a_server").A2AServer


@pytest.fixture(autouse=True)
def _allow_loopback(settings):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["127.0.0.1", "localhost"]
    outbound.close_pools()
    yield
    outbound.close_pools()


@pytest.fixture(scope="module")
def sdk_agent():
    with A2AServer() as server:
        yield server


@pytest.fixture(scope="module")
def sdk_agent_v03():
    with A2AServer(protocol="0.3") as server:
        yield server


def target_for(server, protocol_version: str | None = None) -> Target:
    fields = agent_fields_from_card(fetch_agent_card(server.url), server.url)
    version = fields["protocol_version"] if protocol_version is None else protocol_version
    return Target(transport="a2a", endpoint_url=fields["endpoint_url"], protocol_version=version)


def run(target: Target, value, *, timeout: float = 10.0):
    return call(target, CallRequest(execution_id="exec_a2a", idempotency_key="idem-a2a", input=value, timeout=timeout))


# --- Agent Cards ------------------------------------------------------------------------------


def test_the_card_is_found_under_a_base_url_and_gives_the_agents_fields(sdk_agent):
    card = fetch_agent_card(sdk_agent.url)
    fields = agent_fields_from_card(card, sdk_agent.url)

    assert card["name"] == "Shouting Agent"
    assert fields == {
        "name": "Shouting Agent",
        "slug": "shouting-agent",
        "description": "Answers everything in capitals. Also echoes data.",
        "short_description": "Answers everything in capitals.",
        "version": "2.1.0",
        "transport": "a2a",
        "endpoint_url": sdk_agent.rpc_url,
        "protocol_version": "1.0",
        "skills": ["shout", "echo-data", "text", "uppercase", "echo"],
        "tags": ["text", "uppercase", "echo"],
        "capabilities": [
            "Shout: Answers text in capitals.", "Echo data: Answers data with the same data.", "Streaming responses",
        ],
        "author": "Loud Labs",
        "inputs": ["text/plain", "application/json"],
        "outputs": ["text/plain", "application/json"],
    }


def test_the_card_url_itself_is_accepted(sdk_agent):
    assert fetch_agent_card(sdk_agent.card_url)["name"] == "Shouting Agent"


def test_a_0_3_card_gives_protocol_0_3(sdk_agent_v03):
    fields = agent_fields_from_card(fetch_agent_card(sdk_agent_v03.url + "/"), sdk_agent_v03.url + "/")

    assert fields["protocol_version"] == "0.3"
    assert fields["endpoint_url"] == sdk_agent_v03.rpc_url
    assert fields["version"] == "0.9.1"


def test_no_card_is_a_permanent_failure():
    with Peer(lambda request: Answer(404, "nothing here")) as site:
        with pytest.raises(PermanentCallError) as caught:
            fetch_agent_card(site.url("/agents/x"))

    assert caught.value.code == "http_404"
    # base/agent-card.json, then the origin's, then the legacy agent.json at both
    assert [r.path for r in site.requests] == [
        "/agents/x/.well-known/agent-card.json", "/.well-known/agent-card.json",
        "/agents/x/.well-known/agent.json", "/.well-known/agent.json",
    ]


@pytest.mark.parametrize(
    "card",
    [
        "not json",
        [1, 2],
        {"description": "no name", "url": "http://127.0.0.1/a2a"},
        {"name": "Only REST", "supportedInterfaces": [{"url": "http://x/", "protocolBinding": "HTTP+JSON"}]},
        {"name": "gRPC only", "url": "http://x/", "preferredTransport": "GRPC"},
        {"name": "Bad skills", "url": "http://x/", "skills": "shout"},
        {"name": "Nameless skill", "url": "http://x/", "skills": [{"description": "?"}]},
        {"name": "Odd scheme", "url": "ftp://x/rpc"},
    ],
)
def test_a_card_that_is_not_usable_is_refused(card):
    body = card if isinstance(card, str) else json.dumps(card)
    with Peer(lambda request: Answer(200, body, headers={"Content-Type": "application/json"})) as site:
        with pytest.raises(InvalidAgentCard):
            fetch_agent_card(site.url())


def test_card_fetches_are_guarded_against_ssrf(settings):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = []
    with Peer() as canary:
        for url in (canary.url(), f"http://2130706433:{canary.port}/", f"http://[::ffff:127.0.0.1]:{canary.port}/"):
            with pytest.raises(PermanentCallError) as caught:
                fetch_agent_card(url)
            assert caught.value.code == "unsafe_destination"

    assert canary.hits == 0


def test_interfaces_prefer_json_rpc_1_0_and_resolve_relative_urls():
    card = {
        "name": "Multi",
        "supportedInterfaces": [
            {"url": "grpc://x", "protocolBinding": "GRPC", "protocolVersion": "1.0"},
            {"url": "/rpc/v03", "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
            {"url": "/rpc/v1", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
        ],
        "version": "v3",
    }

    fields = agent_fields_from_card(card, "https://agents.example/multi/.well-known/agent-card.json")

    assert (fields["endpoint_url"], fields["protocol_version"]) == ("https://agents.example/rpc/v1", "1.0")
    assert fields["version"] == "3.0.0"
    assert fields["skills"] == [] and fields["short_description"] == ""


def test_a_0_3_card_may_offer_json_rpc_as_an_additional_interface():
    card = {
        "name": "Old",
        "url": "https://old.example/rest",
        "preferredTransport": "HTTP+JSON",
        "additionalInterfaces": [{"url": "https://old.example/jsonrpc", "transport": "JSONRPC"}],
        "protocolVersion": "0.3.0",
        "version": "not a version",
    }

    fields = agent_fields_from_card(card, "https://old.example")

    assert (fields["endpoint_url"], fields["protocol_version"], fields["version"]) == (
        "https://old.example/jsonrpc", "0.3", "1.0.0"
    )


# --- Calls against the SDK server --------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["1.0", "0.3"])
def test_a_text_input_completes_with_the_agents_artifact(sdk_agent, sdk_agent_v03, protocol):
    server = sdk_agent if protocol == "1.0" else sdk_agent_v03
    result = run(target_for(server), "hello agents")

    assert result.status == "completed"
    assert result.output == "HELLO AGENTS"
    expected = "SendMessage" if protocol == "1.0" else "message/send"
    assert server.rpc_methods[-1] == expected


@pytest.mark.parametrize("protocol", ["1.0", "0.3"])
def test_an_object_input_travels_as_a_data_part(sdk_agent, sdk_agent_v03, protocol):
    server = sdk_agent if protocol == "1.0" else sdk_agent_v03
    result = run(target_for(server), {"city": "Oslo", "days": [1, 2]})

    assert result.output == {"city": "Oslo", "days": [1, 2]}


@pytest.mark.parametrize("protocol", ["1.0", "0.3"])
def test_a_failing_agent_is_a_failed_result_with_its_reason(sdk_agent, sdk_agent_v03, protocol):
    server = sdk_agent if protocol == "1.0" else sdk_agent_v03
    result = run(target_for(server), "please fail")

    assert result.status == "failed"
    assert result.error == "The shouting agent lost its voice."


def test_a_rejected_task_is_a_failed_result(sdk_agent):
    result = run(target_for(sdk_agent), "please reject")

    assert (result.status, result.error) == ("failed", "Rejected: I only shout at polite people.")


@pytest.mark.parametrize(
    ("word", "code"), [("please cancel", "cancelled"), ("please ask", "input_required")]
)
def test_cancelled_and_interrupted_tasks_are_permanent_failures(sdk_agent, word, code):
    with pytest.raises(PermanentCallError) as caught:
        run(target_for(sdk_agent), word)

    assert caught.value.code == code


def test_an_executor_that_crashes_is_an_internal_error_worth_a_retry(sdk_agent):
    with pytest.raises(TransientCallError) as caught:
        run(target_for(sdk_agent), "please raise")

    assert caught.value.code == "agent_internal_error"


def test_without_a_recorded_version_a_0_3_server_is_reached_by_message_send(sdk_agent_v03):
    result = run(target_for(sdk_agent_v03, protocol_version=""), "fall back")

    assert result.output == "FALL BACK"
    assert sdk_agent_v03.rpc_methods[-2:] == ["SendMessage", "message/send"]


def test_a_0_3_server_refuses_1_0_when_the_version_is_known(sdk_agent_v03):
    with pytest.raises(A2AProtocolError) as caught:
        run(target_for(sdk_agent_v03, protocol_version="1.0"), "hello")

    assert caught.value.rpc_code == -32601 and not caught.value.transient


def test_health_reads_the_card(sdk_agent):
    result = health(target_for(sdk_agent))

    assert result.ok and result.detail == "Shouting Agent"


def test_health_of_a_dead_agent_is_not_ok():
    with Peer() as gone:
        url = gone.url("/a2a")
    result = health(Target(transport="a2a", endpoint_url=url, protocol_version="1.0"))

    assert not result.ok


# --- Hand-written JSON-RPC peers: long tasks, odd replies --------------------------------------


def scripted_rpc(*results):
    """A JSON-RPC peer answering each call with the next result (the last one repeats)."""
    queue = list(results)

    def handle(request):
        body = request.json()
        result = queue.pop(0) if len(queue) > 1 else queue[0]
        if callable(result):
            return result(body)
        return Answer(200, {"jsonrpc": "2.0", "id": body["id"], "result": result})

    return handle


def task_v1(state: str, **extra):
    return {"id": "task-1", "contextId": "ctx-1", "status": {"state": f"TASK_STATE_{state}"}, **extra}


def task_v03(state: str, **extra):
    return {"kind": "task", "id": "task-1", "contextId": "ctx-1", "status": {"state": state}, **extra}


def test_a_running_task_is_polled_until_it_completes_1_0():
    done = task_v1("COMPLETED", artifacts=[{"artifactId": "a", "parts": [{"text": "part one"}, {"text": "two"}]}],
                   metadata={"cost": "0.0500"})
    with Peer(scripted_rpc({"task": task_v1("SUBMITTED")}, task_v1("WORKING"), done)) as agent:
        result = run(Target(transport="a2a", endpoint_url=agent.url("/rpc"), protocol_version="1.0"), "go")

    methods = [r.json()["method"] for r in agent.requests]
    assert methods == ["SendMessage", "GetTask", "GetTask"]
    assert agent.requests[1].json()["params"] == {"id": "task-1"}
    assert agent.requests[0].headers["a2a-version"] == "1.0"
    assert (result.output, result.cost) == ("part one\ntwo", Decimal("0.0500"))


def test_a_running_task_is_polled_until_it_completes_0_3():
    done = task_v03("completed", artifacts=[{"artifactId": "a", "parts": [{"kind": "data", "data": {"n": 3}}]}])
    with Peer(scripted_rpc(task_v03("working"), done)) as agent:
        result = run(Target(transport="a2a", endpoint_url=agent.url("/rpc"), protocol_version="0.3"), {"n": 1})

    sent = agent.requests[0].json()
    assert [r.json()["method"] for r in agent.requests] == ["message/send", "tasks/get"]
    assert sent["params"]["message"]["parts"] == [{"kind": "data", "data": {"n": 1}}]
    assert sent["params"]["message"]["role"] == "user"
    assert sent["params"]["configuration"] == {"blocking": True}
    assert sent["params"]["metadata"]["executionId"] == "exec_a2a"
    assert result.output == {"n": 3}


def test_a_task_still_working_at_the_deadline_is_a_timeout():
    with Peer(scripted_rpc({"task": task_v1("WORKING")})) as agent:
        started = time.monotonic()
        with pytest.raises(CallTimeout):
            run(Target(transport="a2a", endpoint_url=agent.url("/rpc"), protocol_version="1.0"), "go", timeout=1.0)

    assert time.monotonic() - started < 2.5
    assert len(agent.requests) > 2  # it was polled, with growing waits


def test_a_plain_message_answer_is_the_result():
    message = {"messageId": "m", "role": "ROLE_AGENT", "parts": [{"text": "straight answer"}]}
    with Peer(scripted_rpc({"message": message})) as agent:
        result = run(Target(transport="a2a", endpoint_url=agent.url("/rpc"), protocol_version="1.0"), "q")

    assert result.output == "straight answer"


def test_a_completed_task_without_artifacts_answers_with_its_status_message():
    status = {"state": "completed", "message": {"kind": "message", "messageId": "m", "role": "agent",
                                                "parts": [{"kind": "text", "text": "said in status"}]}}
    with Peer(scripted_rpc({"kind": "task", "id": "t", "contextId": "c", "status": status})) as agent:
        result = run(Target(transport="a2a", endpoint_url=agent.url("/rpc"), protocol_version="0.3"), "q")

    assert result.output == "said in status"


@pytest.mark.parametrize(
    "reply",
    [
        lambda body: Answer(200, {"result": {"task": task_v1("COMPLETED")}}),  # no "jsonrpc"
        lambda body: Answer(200, {"jsonrpc": "2.0", "id": "someone-else", "result": {"task": task_v1("COMPLETED")}}),
        lambda body: Answer(200, {"jsonrpc": "2.0", "id": body["id"]}),
        lambda body: Answer(200, {"jsonrpc": "2.0", "id": body["id"], "result": "done"}),
        lambda body: Answer(200, {"jsonrpc": "2.0", "id": body["id"], "result": {"task": {"id": "t"}}}),
        lambda body: Answer(200, {"jsonrpc": "2.0", "id": body["id"], "result": {"task": task_v1("COMPLETED", artifacts=[{"parts": "x"}])}}),  # noqa: E501
        lambda body: Answer(200, "<html>", headers={"Content-Type": "text/html"}),
    ],
)
def test_a_malformed_answer_is_a_permanent_failure(reply):
    with Peer(scripted_rpc(reply)) as agent:
        with pytest.raises(PermanentCallError) as caught:
            run(Target(transport="a2a", endpoint_url=agent.url("/rpc"), protocol_version="1.0"), "q")

    assert caught.value.code == "malformed_reply"


def test_json_rpc_errors_are_classified():
    def error(code):
        return lambda body: Answer(200, {"jsonrpc": "2.0", "id": body["id"], "error": {"code": code, "message": "no"}})

    with Peer(scripted_rpc(error(-32602))) as invalid, Peer(scripted_rpc(error(-32603))) as internal:
        with pytest.raises(A2AProtocolError) as permanent:
            run(Target(transport="a2a", endpoint_url=invalid.url("/rpc"), protocol_version="1.0"), "q")
        with pytest.raises(TransientCallError) as transient:
            run(Target(transport="a2a", endpoint_url=internal.url("/rpc"), protocol_version="1.0"), "q")

    assert permanent.value.rpc_code == -32602
    assert transient.value.code == "agent_internal_error"


def test_an_a2a_endpoint_on_an_internal_address_is_refused_at_call_time(settings):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = []
    with Peer() as canary:
        with pytest.raises(PermanentCallError) as caught:
            run(Target(transport="a2a", endpoint_url=canary.url("/rpc"), protocol_version="1.0"), "q")

    assert caught.value.code == "unsafe_destination"
    assert canary.hits == 0


def test_odd_but_valid_skill_shapes_still_give_fields():
    card = {
        "name": "  Loose  ",
        "url": "https://loose.example/rpc",
        "skills": [{"id": 7, "name": "Count", "description": None, "tags": ["Math", " "]}, {"id": "plain"}],
    }

    fields = agent_fields_from_card(card, "https://loose.example")

    assert fields["name"] == "Loose" and fields["protocol_version"] == "0.3"
    assert fields["skills"] == ["count", "plain", "math"]
    assert fields["capabilities"] == ["Count", "plain"]
