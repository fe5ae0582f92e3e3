"""Test fixtures shared by every app (a real Celery worker, ...). Loaded from the root conftest.

Tasks run inline (Celery's eager mode) in every test, whatever REDIS_URL says, so a test that
enqueues work sees its effect at once. A test that wants the real thing asks for `celery_worker`:
tasks then travel through Redis to a worker running in this process, as they do in production::

    @pytest.mark.redis
    @pytest.mark.django_db(transaction=True)   # the worker's thread must see committed rows
    def test_runs_in_a_worker(celery_worker):
        assert my_task.delay(1).get(timeout=10) == ...
"""

import os
import time

import pytest
from django.db import connections
from django.test.utils import override_settings

IN_CI = os.environ.get("CI", "").lower() == "true"
WORKER_IDLE_TIMEOUT = 30  # seconds a test's leftover tasks may take before the next test starts


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    # Argon2 with Django's parameters costs ~0.25 s per hash: fine for a login, slow for a
    # suite that creates users in most tests. Argon2 stays listed so its hashes still verify.
    with override_settings(
        PASSWORD_HASHERS=[
            "django.contrib.auth.hashers.MD5PasswordHasher",
            "django.contrib.auth.hashers.Argon2PasswordHasher",
        ]
    ):
        yield


@pytest.fixture(autouse=True)
def _celery_eager(settings):
    from agenthub.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    settings.CELERY_TASK_ALWAYS_EAGER = True
    yield
    app.conf.task_always_eager = previous


def _close_worker_connections(**kwargs):
    # Runs in the worker's thread after each task. A connection left open there would keep
    # PostgreSQL from dropping the test database at the end of the run.
    connections.close_all()


def _default_queue_depth(app) -> int:
    queue = app.conf.task_default_queue
    with app.connection_for_read() as conn:
        channel = conn.default_channel
        return sum(channel.client.llen(channel._q_for_pri(queue, step)) for step in channel.priority_steps)


def _wait_until_idle(app, timeout: float) -> bool:
    from celery.worker import state as worker_state

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not worker_state.active_requests and not worker_state.reserved_requests and not _default_queue_depth(app):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def celery_worker(settings, _celery_eager):
    """A real Celery worker (a thread of this process, two task threads) consuming from REDIS_URL.

    Tasks use the test database, so the test must be `django_db(transaction=True)`: the worker's
    thread only sees committed rows. Yields the worker (celery.worker.WorkController).
    """
    if not os.environ.get("REDIS_URL"):
        if IN_CI:
            pytest.fail("A real Celery worker needs Redis (REDIS_URL), which is required under CI=true")
        pytest.skip("needs Redis (REDIS_URL) for a real Celery worker")

    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun

    from agenthub.celery import app

    app.conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.control.purge()  # messages left by an earlier, interrupted run are not this test's
    task_postrun.connect(_close_worker_connections, weak=False)
    try:
        with start_worker(
            app,
            pool="threads",
            concurrency=2,
            perform_ping_check=False,
            loglevel="WARNING",
            shutdown_timeout=WORKER_IDLE_TIMEOUT,
        ) as worker:
            yield worker
            # Let what the test started finish here, not while the next test's data is set up.
            if not _wait_until_idle(app, WORKER_IDLE_TIMEOUT):
                app.control.purge()
                pytest.fail(f"The Celery worker was still busy {WORKER_IDLE_TIMEOUT} s after the test ended")
    finally:
        task_postrun.disconnect(_close_worker_connections)
        app.control.purge()
