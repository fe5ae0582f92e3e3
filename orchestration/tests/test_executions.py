"""Running agents: the execute and invoke endpoints, retries, failures, idempotency and the agent's figures.

Agents here are real HTTP servers on loopback (see scripted_agent.py); tasks run inline (eager)
unless a test asks for the real worker.
"""

import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from marketplace.models import Agent, Hiring
from marketplace.tests.factories import agent_make, listed
from orchestration import services
from orchestration.models import Execution, ExecutionAttempt
from orchestration.tests.scripted_agent import Reply, ScriptedAgent

pytestmark = pytest.mark.django_db(transaction=True)  # runs start when the request's transaction commits


@pytest.fixture(autouse=True)
def _quick_retries(settings):
    settings.EXECUTION_RETRY_BACKOFF_SECONDS = Decimal("0.01")
    settings.EXECUTION_TIMEOUT_SECONDS = 5
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["127.0.0.1"]


@pytest.fixture
def remote():
    with ScriptedAgent() as server:
        yield server


@pytest.fixture
def agent(alice, remote, eve, bob, fund):
    fund(eve, "10")  # the runners can pay: 0.05 BB a run (billing's own tests cover the money)
    fund(bob, "10")
    return listed(created_by=alice, slug="scripted", endpoint_url=remote.url, price_per_use=Decimal("0.05"),
                  dynamic_price=Decimal("0.05"))


def execute(api, user, slug="scripted", body=None, query="", **headers):
    body = {"input": {"text": "Hello"}} if body is None else body
    return api(user).post(f"/api/agents/{slug}/execute{query}", body, format="json", headers=headers)


def test_a_run_goes_through_the_agents_endpoint_and_is_recorded(api, eve, agent, remote):
    remote.script(Reply(200, {"result": {"summary": "Hi"}, "cost": "0.0300"}))

    response = execute(api, eve)

    assert response.status_code == 202
    created = response.json()
    assert created["executionId"].startswith("exec_") and created["agent"] == "scripted"
    run = api(eve).get(f"/api/executions/{created['id']}").json()
    assert run["status"] == "completed"
    assert run["output"] == {"summary": "Hi"} and run["cost"] == 0.03
    assert run["durationMs"] is not None and run["attemptCount"] == 1
    assert [a["outcome"] for a in run["attempts"]] == ["completed"]
    assert [step["status"] for step in run["timeline"]] == ["pending", "running", "completed"]
    (call,) = remote.calls
    assert call.body == {"input": {"text": "Hello"}, "config": {}, "executionId": created["executionId"]}
    assert call.headers["Idempotency-Key"] == created["executionId"]
    agent.refresh_from_db()
    assert (agent.total_executions, agent.jobs_completed, agent.jobs_failed) == (1, 1, 0)
    assert agent.success_rate == 1.0


def test_wait_answers_with_the_result(api, eve, agent, remote):
    remote.script(Reply(200, {"result": "done"}))
    response = execute(api, eve, query="?wait=10")
    assert response.status_code == 200
    assert response.json()["status"] == "completed" and response.json()["output"] == "done"
    assert execute(api, eve, query="?wait=31").status_code == 400
    assert execute(api, eve, query="?wait=soon").status_code == 400


def test_a_hirings_config_goes_with_the_run_and_its_counters_move(api, eve, agent, remote):
    Agent.objects.filter(pk=agent.pk).update(config_schema={"type": "object"})
    hiring = api(eve).post("/api/hirings", {"agent": "scripted", "config": {"tone": "dry"}}, format="json").json()

    execute(api, eve, body={"input": {"text": "x"}, "hiringId": hiring["id"]})

    assert remote.calls[0].body["config"] == {"tone": "dry"}
    hiring = Hiring.objects.get(pk=hiring["id"])
    assert hiring.total_executions == 1 and hiring.last_executed_at is not None


def test_transient_failures_are_retried_with_one_attempt_each(api, eve, agent, remote):
    remote.script(Reply(503, {"error": "busy"}), Reply(429, {"error": "slow down"}), Reply(200, {"result": 1}))

    run = execute(api, eve, query="?wait=10").json()

    assert run["status"] == "completed" and run["attemptCount"] == 3
    outcomes = ExecutionAttempt.objects.filter(execution_id=run["id"]).values_list("outcome", flat=True)
    assert list(outcomes) == ["transient_error", "transient_error", "completed"]
    assert len({call.headers["Idempotency-Key"] for call in remote.calls}) == 1  # every try, one key


def test_retries_are_bounded(api, eve, agent, remote):
    remote.script(Reply(502, "bad gateway"))
    run = execute(api, eve, query="?wait=10").json()
    assert run["status"] == "failed" and len(remote.calls) == 3
    agent.refresh_from_db()
    assert (agent.total_executions, agent.jobs_failed) == (1, 1)


def test_a_permanent_failure_is_not_retried(api, eve, agent, remote):
    remote.script(Reply(400, {"error": "text is required"}))
    run = execute(api, eve, query="?wait=10").json()
    assert run["status"] == "failed" and run["error"] and len(remote.calls) == 1


def test_a_malformed_reply_fails_the_run(api, eve, agent, remote):
    remote.script(Reply(200, {"no": "result"}))
    run = execute(api, eve, query="?wait=10").json()
    assert run["status"] == "failed" and len(remote.calls) == 1


def test_an_agent_slower_than_the_deadline_times_out(api, eve, agent, remote, settings):
    settings.EXECUTION_TIMEOUT_SECONDS = 1
    remote.script(Reply(200, {"result": "late"}, delay=3))
    run = execute(api, eve, query="?wait=10").json()
    assert run["status"] == "timeout" and run["output"] is None


def test_bad_requests_are_refused_before_anything_runs(api, eve, alice, agent, remote):
    assert execute(api, eve, body={"input": "not an object"}).status_code == 400
    assert execute(api, eve, body={"input": [1, 2]}).json()["error"]["fields"] == {"input": ["Expected a JSON object."]}
    assert execute(api, eve, body={}).status_code == 400
    assert execute(api, eve, slug="no-such-agent").status_code == 404
    agent_make(created_by=alice, slug="a-draft", endpoint_url=remote.url)
    assert execute(api, eve, slug="a-draft").status_code == 404  # others cannot see a draft
    response = execute(api, alice, slug="a-draft")
    assert response.status_code == 409 and response.json()["error"]["code"] == "agent_not_active"
    listed(created_by=alice, slug="monthly", endpoint_url=remote.url, pricing_model="subscription",
           monthly_price="5")
    response = execute(api, eve, slug="monthly")
    assert response.status_code == 409 and response.json()["error"]["code"] == "hiring_required"
    assert execute(api, eve, body={"input": {}, "hiringId": str(uuid.uuid4())}).status_code == 404
    assert execute(api, None).status_code == 401
    assert not Execution.objects.exists() and not remote.calls


def test_idempotency_key_replays_the_same_run(api, eve, agent, remote):
    first = execute(api, eve, **{"Idempotency-Key": "order-17"})
    again = execute(api, eve, **{"Idempotency-Key": "order-17"})

    assert first.json()["id"] == again.json()["id"]
    assert len(remote.calls) == 1
    other = execute(api, eve, body={"input": {"text": "something else"}}, **{"Idempotency-Key": "order-17"})
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"


def test_invoke_agent_answers_the_way_seed_004s_ui_expects(api, eve, agent, remote):
    remote.script(Reply(200, {"result": {"answer": 42}, "cost": 0.5}))

    response = api(eve).post("/api/invoke-agent", {"agentId": "scripted", "payload": {"q": "?"}}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"executionId", "status", "result", "cost", "executionTime"}
    # The agent said 0.5; a run is never charged more than the price quoted when it started (0.05).
    assert body["status"] == "completed" and body["result"] == {"answer": 42} and body["cost"] == 0.05
    assert remote.calls[0].body["input"] == {"q": "?"}


def test_history_is_yours_and_filterable(api, eve, bob, agent, remote):
    remote.script(Reply(200, {"result": 1}))
    execute(api, eve)
    remote.script(Reply(400, {"error": "no"}))
    execute(api, eve)
    execute(api, bob)

    assert len(api(eve).get("/api/executions").json()) == 2
    assert [run["status"] for run in api(eve).get("/api/executions?status=failed").json()] == ["failed"]
    assert len(api(eve).get("/api/executions?agent=scripted&status=completed&status=failed").json()) == 2
    assert api(eve).get("/api/executions?agent=other").json() == []
    assert api(eve).get("/api/executions?status=exploded").status_code == 400


def test_a_finished_run_cannot_be_cancelled(api, eve, agent, remote):
    run = execute(api, eve).json()
    response = api(eve).post(f"/api/executions/{run['id']}/cancel")
    assert response.status_code == 409


def test_a_run_is_claimed_once_however_often_it_is_delivered(eve, agent, remote):
    execution, _ = services.execution_start(user=eve, agent=agent, input={"n": 1})
    services.execution_run(execution.pk)
    services.execution_run(execution.pk)
    assert len(remote.calls) == 1


def test_the_sweeper_retries_a_run_whose_worker_vanished_then_gives_up(eve, agent, remote, settings):
    execution, _ = services.execution_start(user=eve, agent=agent, input={"n": 1})
    past = timezone.now() - timedelta(seconds=1)
    # It ran inline already; make it look like its worker died in the middle of the call.
    Execution.objects.filter(pk=execution.pk).update(status="running", lease_expires_at=past, attempt_count=1)
    remote.calls.clear()

    assert services.executions_sweep()["retried"] == 1  # back to pending, and (inline) run again
    execution.refresh_from_db()
    assert execution.status == "completed" and len(remote.calls) == 1
    assert remote.calls[0].headers["Idempotency-Key"] == execution.execution_id

    Execution.objects.filter(pk=execution.pk).update(
        status="running", lease_expires_at=past, attempt_count=settings.EXECUTION_MAX_ATTEMPTS
    )
    assert services.executions_sweep()["failed"] == 1
    execution.refresh_from_db()
    assert execution.status == "failed" and execution.error_code == "worker_lost"


def test_health_checks_flip_availability(agent, remote):
    remote.health = Reply(200, {"status": "ok", "load": 0.7})
    services.agent_health_check(agent=agent)
    agent.refresh_from_db()
    assert agent.availability and agent.load == 0.7 and agent.health_failures == 0

    remote.health = Reply(503, {"status": "down"})
    for expected in (True, True, False):
        services.agent_health_check(agent=agent)
        agent.refresh_from_db()
        assert agent.availability is expected
    assert agent.health_failures == 3

    remote.health = Reply(200, {"status": "ok", "load": 0.1})
    services.agent_health_check(agent=agent)
    agent.refresh_from_db()
    assert agent.availability and agent.health_failures == 0
    assert [c.ok for c in agent.health_checks.order_by("checked_at")] == [True, False, False, False, True]


@pytest.mark.redis
def test_a_run_travels_through_a_real_worker(api, eve, agent, remote, celery_worker):
    remote.script(Reply(200, {"result": "from the worker"}, delay=0.3))

    response = execute(api, eve)

    assert response.status_code == 202 and response.json()["status"] in ("pending", "running")
    waited = services.execution_wait(execution=Execution.objects.get(pk=response.json()["id"]), timeout=10)
    assert waited.status == "completed" and waited.output == "from the worker"


@pytest.mark.redis
def test_cancelling_a_running_call_keeps_it_cancelled(api, eve, agent, remote, celery_worker):
    remote.script(Reply(200, {"result": "too late"}, delay=1.5))
    run = execute(api, eve).json()
    deadline = time.monotonic() + 5
    while not remote.calls and time.monotonic() < deadline:
        time.sleep(0.02)

    response = api(eve).post(f"/api/executions/{run['id']}/cancel")

    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    time.sleep(2)  # the agent answers; the worker must not overwrite the cancellation
    execution = Execution.objects.get(pk=run["id"])
    assert execution.status == "cancelled" and execution.output is None


@pytest.mark.redis
def test_a_duplicate_delivery_calls_the_agent_once(eve, agent, remote, celery_worker):
    from orchestration.tasks import run_execution

    remote.script(Reply(200, {"result": 1}, delay=0.2))
    execution, _ = services.execution_start(user=eve, agent=agent, input={"n": 1})
    run_execution.delay(str(execution.pk))  # a redelivery racing the first message

    assert services.execution_wait(execution=execution, timeout=10).status == "completed"
    time.sleep(0.5)
    assert len(remote.calls) == 1


def test_an_internal_endpoint_is_refused_at_call_time_without_a_single_hit(api, eve, agent, remote, settings):
    # Registered while the host was allowed; the setting changed since: the call itself checks again.
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = []
    run = execute(api, eve, query="?wait=10").json()
    assert run["status"] == "failed" and run["errorCode"] == "unsafe_destination"
    assert remote.calls == [] and run["attemptCount"] == 1  # refused, not retried


def test_an_api_key_runs_agents_only_with_the_invoke_scope(eve, agent, remote):
    from rest_framework.test import APIClient

    from accounts.services import api_key_create

    def client(scopes):
        key = api_key_create(user=eve, name=f"key {scopes}", scopes=scopes)[1]
        return APIClient(headers={"Authorization": f"Api-Key {key}"})

    reader, runner = client(["read"]), client(["invoke", "read"])
    refused = reader.post("/api/agents/scripted/execute", {"input": {}}, format="json")
    assert refused.status_code == 403 and "invoke" in refused.json()["error"]["message"]
    assert not remote.calls

    run = runner.post("/api/agents/scripted/execute?wait=5", {"input": {}}, format="json")
    assert run.status_code == 200 and run.json()["status"] == "completed"
    assert reader.get(f"/api/executions/{run.json()['id']}").status_code == 200
    assert reader.post(f"/api/executions/{run.json()['id']}/cancel").status_code == 403
