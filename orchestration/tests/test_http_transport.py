"""The http transport (seed 004's /execute and /health) against real agents on loopback."""

from decimal import Decimal

import pytest

from orchestration import outbound
from orchestration.tests.local_peers import Answer, Peer, trickle
from orchestration.transports import (
    CallRequest,
    CallTimeout,
    PermanentCallError,
    Target,
    TransientCallError,
    call,
    health,
)
from orchestration.transports.http import parse_cost


@pytest.fixture(autouse=True)
def _allow_localhost(settings):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["localhost"]
    outbound.close_pools()
    yield
    outbound.close_pools()


def agent_at(peer: Peer, path: str = "") -> Target:
    return Target(transport="http", endpoint_url=peer.url(path, host="localhost"))


def run(target: Target, **overrides):
    request = {"execution_id": "exec_abc", "idempotency_key": "idem-123", "input": {"text": "Hello"},
               "config": {"style": "short"}, "timeout": 5.0} | overrides
    return call(target, CallRequest(**request))


def reply(body, status: int = 200, **kwargs):
    return lambda request: Answer(status, body, **kwargs)


def test_execute_posts_the_seed_004_body_with_the_idempotency_key():
    with Peer(reply({"result": {"summary": "Hi."}, "cost": 0.03})) as agent:
        result = run(agent_at(agent, "/v1/"))

    sent = agent.requests[0]
    assert (sent.method, sent.path) == ("POST", "/v1/execute")
    assert sent.json() == {"input": {"text": "Hello"}, "config": {"style": "short"}, "executionId": "exec_abc"}
    assert sent.headers["idempotency-key"] == "idem-123"
    assert result.status == "completed"
    assert result.output == {"summary": "Hi."}
    assert result.cost == Decimal("0.0300")


def test_every_try_of_one_execution_sends_the_same_key():
    with Peer(reply({"result": "ok"})) as agent:
        run(agent_at(agent))
        run(agent_at(agent))

    assert [r.headers["idempotency-key"] for r in agent.requests] == ["idem-123", "idem-123"]


@pytest.mark.parametrize("result", [None, 0, "text", [1, 2], {"nested": {"a": [1]}}])
def test_any_json_result_is_the_output_and_cost_is_optional(result):
    with Peer(reply({"result": result})) as agent:
        outcome = run(agent_at(agent))

    assert outcome.output == result and outcome.cost is None


@pytest.mark.parametrize(
    ("cost", "expected"),
    [(0, "0"), ("0.02", "0.02"), (0.1, "0.1"), ("1.2300", "1.23"), (12, "12"), ("  0.5 ", "0.5")],
)
def test_cost_may_be_a_number_or_a_decimal_string(cost, expected):
    assert parse_cost(cost) == Decimal(expected)


@pytest.mark.parametrize("cost", ["-0.01", -1, "0.00001", 0.00001, "abc", "NaN", "Infinity", True, [1], {"v": 1},
                                  "1e9", "100000000"])
def test_a_bad_cost_is_a_permanent_failure(cost):
    with Peer(reply({"result": "fine", "cost": cost})) as agent:
        with pytest.raises(PermanentCallError) as caught:
            run(agent_at(agent))

    assert caught.value.code == "malformed_reply"


@pytest.mark.parametrize(
    "body",
    ["not json at all", "[1, 2, 3]", '"just a string"', "{}", '{"cost": 0.01}', '{"answer": 42}', ""],
)
def test_a_malformed_reply_is_a_permanent_failure(body):
    with Peer(reply(body, headers={"Content-Type": "application/json"})) as agent:
        with pytest.raises(PermanentCallError) as caught:
            run(agent_at(agent))

    assert caught.value.code == "malformed_reply"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"status": "failed", "error": "The text is empty."}, "The text is empty."),
        ({"status": "error", "error": {"message": "Quota exhausted"}, "cost": "0.01"}, "Quota exhausted"),
        ({"error": "Unsupported language pair"}, "Unsupported language pair"),
        ({"status": "failed"}, "The agent reported a failure."),
    ],
)
def test_an_agent_saying_it_failed_is_a_failed_result(body, error):
    with Peer(reply(body)) as agent:
        result = run(agent_at(agent))

    assert result.status == "failed"
    assert result.error == error


def test_a_failed_reply_keeps_the_agents_cost():
    with Peer(reply({"status": "failed", "error": "no", "cost": "0.01"})) as agent:
        assert run(agent_at(agent)).cost == Decimal("0.01")


def test_503_is_transient_with_retry_after_and_400_is_permanent():
    with Peer(reply({"error": "busy"}, 503, headers={"Retry-After": "2"})) as busy:
        with pytest.raises(TransientCallError) as transient:
            run(agent_at(busy))
    with Peer(reply({"error": "input.text is required"}, 400)) as picky:
        with pytest.raises(PermanentCallError) as permanent:
            run(agent_at(picky))

    assert transient.value.retry_after == 2.0
    assert "input.text is required" in permanent.value.message


def test_the_requests_timeout_is_the_total_deadline():
    slow = trickle(b'HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n{"result": "', every=0.05)
    with Peer(lambda request: slow) as agent:
        with pytest.raises(CallTimeout):
            run(agent_at(agent), timeout=0.8)


def test_an_agent_endpoint_on_an_internal_address_is_refused(settings):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = []
    with Peer() as canary:
        with pytest.raises(PermanentCallError) as caught:
            run(Target(transport="http", endpoint_url=canary.url()))

    assert caught.value.code == "unsafe_destination"
    assert canary.hits == 0


# --- /health ----------------------------------------------------------------------------------


def test_health_reads_status_and_load():
    with Peer(reply({"status": "ok", "load": 0.35})) as agent:
        result = health(agent_at(agent))

    assert agent.requests[0].method == "GET" and agent.requests[0].path == "/health"
    assert result.ok and result.load == 0.35 and result.response_ms >= 0


@pytest.mark.parametrize(
    ("body", "ok", "load"),
    [
        ({"status": "ok"}, True, None),
        ({"status": "healthy", "load": 1}, True, 1.0),
        ({"load": 0}, True, 0.0),
        ({"status": "ok", "load": 7}, True, None),
        ({"status": "ok", "load": "high"}, True, None),
        ({"status": "degraded", "load": 0.99}, False, 0.99),
        ("OK", True, None),
    ],
)
def test_health_tolerates_what_it_can(body, ok, load):
    with Peer(reply(body)) as agent:
        result = health(agent_at(agent))

    assert (result.ok, result.load) == (ok, load)


def test_an_unhealthy_agent_is_reported_not_raised():
    with Peer(reply({"status": "busy", "load": 0.97}, 503)) as agent:
        result = health(agent_at(agent))

    assert not result.ok and "503" in result.detail
