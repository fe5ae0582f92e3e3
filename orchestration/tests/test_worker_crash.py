"""A Celery worker killed with SIGKILL in the middle of an agent call.

The run must still end in a terminal state, and the agent is called at most twice, both times
with the same idempotency key: the sweeper (celery beat's job) hands the run to another worker.
The workers here are real `celery worker` processes on Redis and the test's PostgreSQL database.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from billing.services import ledger_is_consistent
from marketplace.tests.factories import listed
from orchestration import services
from orchestration.models import Execution
from orchestration.tests.scripted_agent import Reply, ScriptedAgent

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT, GRACE = 3, 1  # seconds: the run's deadline, and how long past it a running run counts as lost


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def start_worker(settings):
    from agenthub.celery import app

    app.conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.control.purge()
    db = connection.settings_dict
    test_database = f"postgres://{db['USER'] or 'root'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": test_database,
        "EXECUTION_TIMEOUT_SECONDS": str(TIMEOUT),
        "EXECUTION_LEASE_GRACE_SECONDS": str(GRACE),
        "AGENT_ALLOWED_INTERNAL_HOSTS": "127.0.0.1",
    }
    workers = []

    def start() -> subprocess.Popen:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "agenthub", "worker", "--pool", "solo", "--loglevel", "WARNING",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=env, start_new_session=True,
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
    app.control.purge()


def test_a_run_survives_its_worker_being_killed_mid_call(settings, eve, alice, start_worker, fund):
    fund(eve)  # the run is paid: its hold must be settled once, after the retry
    settings.EXECUTION_TIMEOUT_SECONDS, settings.EXECUTION_LEASE_GRACE_SECONDS = TIMEOUT, GRACE
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["127.0.0.1"]
    with ScriptedAgent() as remote:
        remote.script(Reply(200, {"result": "first"}, delay=30), Reply(200, {"result": "second try"}))
        agent = listed(created_by=alice, slug="slow", endpoint_url=remote.url)
        first = start_worker()

        execution, _ = services.execution_start(user=eve, agent=agent, input={"text": "hi"})
        wait_until(lambda: len(remote.calls) == 1, 30, "the first worker to call the agent")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)

        execution.refresh_from_db()
        assert execution.status == "running"  # nobody is left to finish it...
        wait_until(lambda: services.executions_sweep()["retried"] == 1, TIMEOUT + GRACE + 10, "the sweeper")
        start_worker()  # ...until the sweeper hands it to another worker
        wait_until(lambda: Execution.objects.get(pk=execution.pk).is_terminal, 30, "a terminal state")

    execution.refresh_from_db()
    assert execution.status == "completed" and execution.output == "second try"
    assert len(remote.calls) == 2
    assert {call.headers["Idempotency-Key"] for call in remote.calls} == {execution.execution_id}
    outcomes = list(execution.attempts.order_by("number").values_list("outcome", flat=True))
    assert outcomes == ["worker_lost", "completed"]
    assert execution.hold.status == "captured" and execution.cost == execution.price  # charged once
    assert ledger_is_consistent()
