"""A task's progress as server-sent events (GET /api/tasks/{id}/events): the owner's alone, a
snapshot at once, each change as it is written by someone else, a heartbeat, and the end."""

import json
import threading
import time
import urllib.request
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from django.utils import timezone

from accounts import services as accounts_services
from marketplace.tests.factories import listed
from orchestration.hubchat import events as task_events
from orchestration.models import Message, StepStatus, Task, TaskStatus, TaskStep

STREAM = "text/event-stream"


@pytest.fixture(autouse=True)
def _quick(monkeypatch):
    monkeypatch.setattr(task_events, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(task_events, "MAX_SECONDS", 10.0)


@pytest.fixture
def summarizer(alice):
    return listed(created_by=alice, slug="summarizer", name="Summarizer")


def make_task(user, agent, *, status=TaskStatus.IN_PROGRESS, source="api", steps=2) -> Task:
    task = Task.objects.create(user=user, user_query="Summarize this, then translate it.", max_budget=Decimal("1"),
                               quote_total=Decimal("0.1"), status=status, source=source, planner="builtin")
    for position in range(steps):
        TaskStep.objects.create(task=task, position=position, subtask_type="summarization", agent=agent,
                                price=Decimal("0.05"), depends_on=[position - 1] if position else [],
                                selection={"chosen": {"agent": agent.slug, "name": agent.name, "score": 0.8,
                                                      "price": "0.05", "reason": "The only one"}})
    return task


def url(task, dialect="api") -> str:
    return f"/{dialect}/tasks/{task.pk}/events"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def read_events(response):
    """(kind, payload) per block of the stream: ("task", dict), ("end", dict), ("comment", text), ("retry", ms)."""
    buffer = b""
    for chunk in response.streaming_content:
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            fields = {}
            for line in block.decode().split("\n"):
                if line.startswith(":"):
                    yield "comment", line[1:].strip()
                    continue
                name, _, value = line.partition(": ")
                fields[name] = value
            if "event" in fields:
                yield fields["event"], json.loads(fields["data"])
            elif "retry" in fields:
                yield "retry", int(fields["retry"])


def next_event(stream, kind: str = "task"):
    for found, payload in stream:
        if found == kind:
            return payload
        assert found in ("comment", "retry"), (found, payload)
    raise AssertionError(f"the stream ended before an event {kind!r}")


def later(work, delay: float = 0.2) -> threading.Thread:
    """Run `work` in another thread (as a worker would, with its own connection) after `delay`."""

    def run():
        time.sleep(delay)
        try:
            work()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


# --- Privacy ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_another_user_gets_404_in_json_and_an_anonymous_caller_nothing(eve, bob, summarizer):
    task = make_task(eve, summarizer)

    theirs = signed_in(bob).get(url(task), headers={"Accept": STREAM})
    anonymous = Client().get(url(task), headers={"Accept": STREAM})
    unknown = signed_in(eve).get(f"/api/tasks/{'0' * 8}-0000-0000-0000-{'0' * 12}/events", headers={"Accept": STREAM})

    assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "not_found"
    assert anonymous.status_code in (401, 403) and "error" in anonymous.json()
    assert unknown.status_code == 404
    assert not theirs.streaming and not anonymous.streaming


# --- The stream ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_snapshot_at_once_then_each_change_then_end(eve, summarizer):
    task = make_task(eve, summarizer)
    first, second = task.steps.order_by("position")

    response = signed_in(eve).get(url(task), headers={"Accept": STREAM})
    stream = read_events(response)

    # then: the state as it is, in the API's shapes (camelCase)
    assert response.status_code == 200
    assert response["Content-Type"].startswith(STREAM) and response["Cache-Control"] == "no-cache"
    snapshot = next_event(stream)
    assert snapshot["task"]["id"] == str(task.pk) and snapshot["task"]["userQuery"] == task.user_query
    assert snapshot["task"]["status"] == "in_progress" and snapshot["task"]["maxBudget"] == 1
    assert [(step["position"], step["subtaskType"], step["status"], step["agentId"]) for step in snapshot["steps"]] == [
        (0, "summarization", "pending", "summarizer"), (1, "summarization", "pending", "summarizer")]
    assert snapshot["steps"][0]["selection"]["chosen"]["reason"] == "The only one"
    assert snapshot["answer"] is None

    # when: a worker starts the first step
    worker = later(lambda: TaskStep.objects.filter(pk=first.pk).update(status=StepStatus.RUNNING,
                                                                        started_at=timezone.now()))
    # then
    changed = next_event(stream)
    worker.join()
    assert [step["status"] for step in changed["steps"]] == ["running", "pending"]

    # when: both steps finish and the task completes
    def finish():
        for step in (first, second):
            TaskStep.objects.filter(pk=step.pk).update(status=StepStatus.COMPLETED, cost=Decimal("0.04"),
                                                       result="Resumen.", execution_time=120,
                                                       completed_at=timezone.now())
        Task.objects.filter(pk=task.pk).update(status=TaskStatus.COMPLETED, total_cost=Decimal("0.08"),
                                               completed_at=timezone.now())

    worker = later(finish)
    # then: the last state, then the end (an API task has no answer to wait for)
    last = None
    for kind, payload in stream:
        if kind == "task":
            last = payload
        if kind == "end":
            end = payload
            break
    worker.join()
    assert last["task"]["status"] == "completed" and last["task"]["totalCost"] == 0.08
    assert [step["result"] for step in last["steps"]] == ["Resumen.", "Resumen."]
    assert end == {"reason": "settled", "status": "completed", "settled": True}
    assert list(stream) == []  # the stream is over


@pytest.mark.django_db
def test_a_finished_task_gets_its_snapshot_and_the_end(eve, summarizer):
    task = make_task(eve, summarizer, status=TaskStatus.FAILED)
    Task.objects.filter(pk=task.pk).update(error="Step 1 (summarization) failed: HTTP 503", completed_at=timezone.now())

    kinds = [(kind, payload) for kind, payload in read_events(signed_in(eve).get(url(task)))]

    assert [kind for kind, _ in kinds] == ["retry", "task", "end"]
    assert kinds[1][1]["task"]["error"] == "Step 1 (summarization) failed: HTTP 503"
    assert kinds[2][1] == {"reason": "settled", "status": "failed", "settled": True}


@pytest.mark.django_db(transaction=True)
def test_a_hubchat_task_ends_once_its_answer_is_written(eve, summarizer):
    task = make_task(eve, summarizer, status=TaskStatus.COMPLETED, source="hubchat", steps=1)
    stream = read_events(signed_in(eve).get(url(task)))
    assert next_event(stream)["answer"] is None

    # when: the answer task writes the assistant's message
    worker = later(lambda: Message.objects.create(
        user=eve, role="assistant", content="Here is the summary.", task=task,
        cost_breakdown={"subtasks": [{"agent": "Summarizer", "cost": "0.05"}], "total": "0.05"}))

    # then
    answered = next_event(stream)
    worker.join()
    assert answered["answer"]["content"] == "Here is the summary."
    assert answered["answer"]["costBreakdown"] == {"subtasks": [{"agent": "Summarizer", "cost": "0.05"}],
                                                   "total": "0.05"}
    assert next_event(stream, "end")["settled"] is True


@pytest.mark.django_db
def test_a_quiet_stream_has_heartbeats_and_ends_on_its_time_limit(eve, summarizer, monkeypatch):
    monkeypatch.setattr(task_events, "HEARTBEAT_SECONDS", 0.15)
    monkeypatch.setattr(task_events, "MAX_SECONDS", 0.6)
    task = make_task(eve, summarizer, status=TaskStatus.AWAITING_CONFIRMATION)

    started = time.monotonic()
    kinds = list(read_events(signed_in(eve).get(url(task))))
    took = time.monotonic() - started

    assert kinds[0] == ("retry", task_events.RETRY_MS)
    assert [kind for kind, _ in kinds].count("task") == 1  # nothing changed
    assert ("comment", "keep-alive") in kinds
    assert kinds[-1] == ("end", {"reason": "timeout", "status": "awaiting_confirmation", "settled": False})
    assert 0.5 < took < 3


@pytest.mark.django_db
def test_under_a_single_threaded_server_the_stream_is_shorter(eve, summarizer, monkeypatch):
    # A gunicorn sync worker is killed when one request runs past its --timeout (30 s by default).
    monkeypatch.setattr(task_events, "SINGLE_THREAD_MAX_SECONDS", 0.3)
    monkeypatch.setattr(task_events, "MAX_SECONDS", 30.0)
    task = make_task(eve, summarizer, status=TaskStatus.AWAITING_CONFIRMATION)

    started = time.monotonic()
    kinds = list(read_events(signed_in(eve).get(url(task), **{"wsgi.multithread": False})))

    assert kinds[-1][1]["reason"] == "timeout" and time.monotonic() - started < 5


@pytest.mark.django_db
def test_jwt_and_the_snake_case_dialect(api, eve, summarizer):
    task = make_task(eve, summarizer, status=TaskStatus.COMPLETED)
    _, tokens = accounts_services.api_session_start(user=eve, ip="198.51.100.7", user_agent="pytest")
    bearer = Client(headers={"Authorization": f"Bearer {tokens['access']}", "Accept": STREAM})

    camel = next_event(read_events(bearer.get(url(task))))
    snake = next_event(read_events(bearer.get(url(task, "api/v1"))))

    assert "userQuery" in camel["task"] and "subtaskType" in camel["steps"][0]
    assert "user_query" in snake["task"] and "subtask_type" in snake["steps"][0]


@pytest.mark.django_db(transaction=True)
def test_events_arrive_one_by_one_over_real_http(live_server, eve, summarizer):
    # The development server (like gunicorn) sends each event as it is written, not at the end.
    task = make_task(eve, summarizer, steps=1)
    session = signed_in(eve).cookies[settings.SESSION_COOKIE_NAME].value
    request = urllib.request.Request(f"{live_server.url}{url(task)}", headers={
        "Accept": STREAM, "Cookie": f"{settings.SESSION_COOKIE_NAME}={session}",
    })

    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith(STREAM)
        lines = iter(response.readline, b"")
        first = next(line for line in lines if line.startswith(b"data: "))  # the task is still in progress
        worker = later(lambda: Task.objects.filter(pk=task.pk).update(status=TaskStatus.CANCELLED,
                                                                      completed_at=timezone.now()), delay=0.1)
        rest = b"".join(lines)
        worker.join()

    assert json.loads(first[6:])["task"]["status"] == "in_progress"
    assert b'"status":"cancelled"' in rest and rest.rstrip().endswith(b'"settled":true}')


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_the_stream_follows_a_task_a_real_worker_runs(api, eve, fund, demo_agents, celery_worker):
    # given: a message to HubChat; planning, the run and the answer happen on the worker
    fund(eve, "5")
    sent = api(eve).post("/api/hubchat/message", {"content": "Summarize this: Solar power is now the cheapest "
                                                             "source of new electricity. My cat sleeps a lot. Solar "
                                                             "farms store power in batteries for the night."},
                         format="json")
    assert sent.status_code == 200, sent.json()

    # when
    kinds = list(read_events(signed_in(eve).get(f"/api/tasks/{sent.json()['taskId']}/events")))

    # then: states as the worker wrote them, the last one answered, then the end
    snapshots = [payload for kind, payload in kinds if kind == "task"]
    statuses = [snapshot["task"]["status"] for snapshot in snapshots]
    assert statuses[-1] == "completed" and statuses == sorted(statuses, key=["created", "in_progress",
                                                                             "completed"].index)
    assert snapshots[-1]["steps"][0]["status"] == "completed" and snapshots[-1]["steps"][0]["agentId"]
    assert snapshots[-1]["answer"]["costBreakdown"]["subtasks"]
    assert kinds[-1] == ("end", {"reason": "settled", "status": "completed", "settled": True})
