"""What operators see: health, status, metrics, request ids in headers, logs and Celery tasks."""

import io
import json
import logging
import os
import socket

import pytest
from celery.result import AsyncResult
from django.test import Client
from pythonjsonlogger.json import JsonFormatter

from agenthub.celery import app as celery_app
from agenthub.tests.tasks import rename_user, report_request_id
from marketplace.tests.factories import listed

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A local port nothing listens on (connections to it are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Health -------------------------------------------------------------------------------


def test_health_is_200_when_every_part_answers(api):
    response = api().get("/api/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker"}
    assert all(check["ok"] for check in body["checks"].values())
    if not os.environ.get("REDIS_URL"):
        assert "inline" in body["checks"]["broker"]["note"]


def test_health_is_503_naming_a_broken_cache(api, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }

    response = api().get("/api/health")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["cache"]["ok"] is False and "Connection" in body["checks"]["cache"]["error"]
    assert body["checks"]["database"]["ok"] is True
    assert body["error"]["code"] == "unhealthy" and body["error"]["message"] == "Failing: cache."


def test_health_is_503_naming_a_broken_broker(api, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", f"redis://127.0.0.1:{closed_port()}/0")

    response = api().get("/api/health")

    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True and body["checks"]["cache"]["ok"] is True
    assert body["error"]["message"] == "Failing: broker."


@pytest.mark.redis
def test_health_reaches_the_real_cache_and_broker(api, settings):
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    assert celery_app.conf.broker_url.startswith("redis://")

    response = api().get("/api/health")

    assert response.status_code == 200, response.content
    assert response.json()["checks"]["broker"]["ok"] is True


def test_health_answers_on_v1_too(api):
    assert api().get("/api/v1/health").json()["status"] == "ok"


def test_probes_are_not_redirected_to_https(settings):
    settings.SECURE_SSL_REDIRECT = True  # production's default
    client = Client()  # a new handler, so SecurityMiddleware reads the setting

    assert client.get("/api/health").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert client.get("/api/agents").status_code == 301


# --- Status -------------------------------------------------------------------------------


def test_status_reports_version_counts_and_queue_depth(api, alice, settings):
    listed(created_by=alice, slug="one")
    listed(created_by=alice, slug="two", is_public=False)

    camel = api().get("/api/status").json()
    snake = api().get("/api/v1/status").json()

    assert camel["version"] == settings.VERSION
    assert camel["counts"]["users"] == 1
    assert camel["counts"]["agents"] == 2 and camel["counts"]["listedAgents"] == 1
    assert snake["counts"]["listed_agents"] == 1
    assert "queueDepth" in camel and "queue_depth" in snake
    assert camel["eagerTasks"] is True and snake["eager_tasks"] is True  # tests run tasks inline unless told
    if not os.environ.get("REDIS_URL"):
        assert camel["queueDepth"] is None  # no broker: nothing queues


@pytest.mark.redis
def test_status_counts_messages_waiting_in_the_broker(api, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.task_always_eager = False  # no worker runs here: the messages wait
    celery_app.control.purge()
    try:
        report_request_id.delay()
        report_request_id.delay()

        body = api().get("/api/status").json()
    finally:
        celery_app.control.purge()

    assert body["queueDepth"] == 2
    assert body["eagerTasks"] is False


def test_status_survives_an_unreachable_broker(api, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", f"redis://127.0.0.1:{closed_port()}/0")

    response = api().get("/api/status")

    assert response.status_code == 200
    assert response.json()["queueDepth"] is None


# --- Metrics --------------------------------------------------------------------------------


def metric_value(text: str, name: str, **labels: str) -> float:
    wanted = "{" + ",".join(f'{key}="{value}"' for key, value in labels.items()) + "}"
    for line in text.splitlines():
        if line.startswith(name + "{"):
            series, value = line.rsplit(" ", 1)
            if all(f'{key}="{value_}"' in series for key, value_ in labels.items()):
                return float(value)
    raise AssertionError(f"no {name}{wanted} in /metrics")


def test_metrics_count_requests_by_route_and_status_and_database_queries(api, client, alice):
    listed(created_by=alice, slug="summarizer")
    before = client.get("/metrics").content.decode()
    try:
        seen = metric_value(before, "agenthub_http_requests_total", method="GET", route="/api/agents/{id}",
                            status="200")
    except AssertionError:
        seen = 0

    api().get("/api/agents")
    api().get("/api/agents/summarizer")
    api().get("/api/agents/summarizer/")
    api().get("/api/no-such-thing")
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert metric_value(text, "agenthub_http_requests_total", method="GET", route="/api/agents/{id}",
                        status="200") == seen + 2
    assert metric_value(text, "agenthub_http_requests_total", method="GET", route="/api/agents", status="200") >= 1
    assert metric_value(text, "agenthub_http_requests_total", method="GET", route="unmatched", status="404") >= 1
    assert metric_value(text, "agenthub_db_queries_total", route="/api/agents/{id}") >= 2
    assert metric_value(text, "agenthub_http_request_duration_seconds_count", method="GET",
                        route="/api/agents/{id}") >= 2


def test_the_home_page_is_a_route_of_its_own(client):
    client.get("/")

    text = client.get("/metrics").content.decode()

    assert metric_value(text, "agenthub_http_requests_total", method="GET", route="/", status="200") >= 1


def test_odd_http_methods_do_not_become_new_metric_labels(client):
    client.generic("BREW", "/api/health")

    text = client.get("/metrics").content.decode()

    assert 'method="BREW"' not in text
    assert metric_value(text, "agenthub_http_requests_total", method="other", route="/api/health") >= 1


def test_metrics_can_require_a_token(client, settings):
    settings.METRICS_TOKEN = "s3cret-metrics-token"

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"}).status_code == 200


# --- Request ids ------------------------------------------------------------------------------


def test_every_response_carries_a_generated_request_id(api, client):
    first = api().get("/api/health")
    second = client.get("/no-such-page")

    assert len(first["X-Request-ID"]) == 32 and int(first["X-Request-ID"], 16) >= 0
    assert second["X-Request-ID"] and second["X-Request-ID"] != first["X-Request-ID"]


def test_a_sane_request_id_from_the_client_is_echoed(api):
    response = api().get("/api/health", HTTP_X_REQUEST_ID="edge-7f3a.42_x")

    assert response["X-Request-ID"] == "edge-7f3a.42_x"


@pytest.mark.parametrize("insane", ["has spaces", "x" * 65, "line\nbreak", "quote\"d", "ünïcode", "a;b"])
def test_an_insane_request_id_is_replaced(api, insane):
    response = api().get("/api/health", HTTP_X_REQUEST_ID=insane)

    assert response["X-Request-ID"] != insane
    assert len(response["X-Request-ID"]) == 32


@pytest.fixture
def json_log_lines():
    """What the configured JSON console handler writes, as parsed lines."""
    handlers = [h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)]
    assert handlers, "LOGGING has no JSON handler on the root logger"
    stream = io.StringIO()
    previous = [handler.setStream(stream) for handler in handlers]
    lines: list[dict] = []
    try:
        yield lambda: [*lines, *(json.loads(line) for line in stream.getvalue().splitlines())]
    finally:
        for handler, old in zip(handlers, previous, strict=True):
            handler.setStream(old)


def test_log_lines_are_json_and_carry_the_request_id(api, json_log_lines):
    api().get("/api/agents", HTTP_X_REQUEST_ID="trace-logs-1")
    api().get("/api/no-such-thing", HTTP_X_REQUEST_ID="trace-logs-2")

    lines = json_log_lines()
    access = [line for line in lines if line["logger"] == "agenthub.request"]
    assert {(line["request_id"], line["route"], line["status"]) for line in access} >= {
        ("trace-logs-1", "/api/agents", 200), ("trace-logs-2", "unmatched", 404)
    }
    # Django's own warning for the 404 goes through the same handler, once, with the id
    not_found = [line for line in lines if line["logger"] == "django.request"]
    assert [line["request_id"] for line in not_found] == ["trace-logs-2"]
    assert all({"time", "level", "logger", "message", "request_id"} <= set(line) for line in lines)


@pytest.mark.urls("agenthub.tests.urls")
def test_an_inline_task_sees_the_request_id_and_leaves_it_in_place(api, json_log_lines):
    response = api().post("/api/test/enqueue", HTTP_X_REQUEST_ID="trace-eager")

    assert response.status_code == 202
    assert response.json()["taskSaw"] == "trace-eager"
    assert response.json()["requestIdAfter"] == "trace-eager"
    [access] = [line for line in json_log_lines() if line["logger"] == "agenthub.request"]
    assert access["request_id"] == "trace-eager"


@pytest.mark.redis
@pytest.mark.urls("agenthub.tests.urls")
@pytest.mark.django_db(transaction=True)
def test_a_task_started_by_a_request_carries_its_id_into_the_worker(api, celery_worker):
    response = api().post("/api/test/enqueue", HTTP_X_REQUEST_ID="trace-worker-1")

    assert response.status_code == 202
    assert "taskSaw" not in response.json()  # it went through the broker
    assert AsyncResult(response.json()["taskId"], app=celery_app).get(timeout=20) == "trace-worker-1"
    # a task started outside any request has no id, not the previous task's
    assert report_request_id.delay().get(timeout=20) is None


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_the_worker_reads_and_writes_the_test_database(alice, bob, celery_worker):
    result = rename_user.delay("alice", "Alice, renamed by a worker")

    assert result.get(timeout=20) == 2
    alice.refresh_from_db()
    assert alice.full_name == "Alice, renamed by a worker"
