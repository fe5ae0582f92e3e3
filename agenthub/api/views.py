"""Operational endpoints: health, status and Prometheus metrics."""

import hmac
import logging
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from agenthub import metrics
from agenthub.api.dialect import to_snake
from agenthub.api.exceptions import error_response
from agenthub.celery import app as celery_app

logger = logging.getLogger(__name__)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    # A key of its own: probes from several processes at once must not read each other's token.
    key = f"health:probe:{uuid.uuid4().hex}"
    token = str(time.monotonic_ns())
    cache.set(key, token, 10)
    if cache.get(key) != token:
        raise RuntimeError("the cache did not return what was stored")
    cache.delete(key)


def _has_broker() -> bool:
    """False when tasks run inline (no REDIS_URL): the in-memory transport is not a broker to check."""
    return not str(celery_app.conf.broker_url or "").startswith("memory")


def _check_broker() -> str | None:
    if not _has_broker():
        return "no broker: tasks run inline (REDIS_URL is not set)"
    with celery_app.connection_for_write() as conn:
        # One try, no retry loop: a health probe must answer quickly when the broker is down.
        conn.ensure_connection(max_retries=0, timeout=2)
        client = getattr(conn.default_channel, "client", None)
        if client is not None:  # Redis: the connection above may be lazy, so ask for an answer
            client.ping()


CHECKS = {"database": _check_database, "cache": _check_cache, "broker": _check_broker}


def queue_depth() -> int | None:
    """Messages waiting in the default Celery queue, or None when there is no broker to ask."""
    if not _has_broker():
        return None
    queue = celery_app.conf.task_default_queue
    try:
        with celery_app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=0, timeout=2)
            channel = conn.default_channel
            # kombu's Redis transport keeps one list per priority step next to the queue's own.
            names = {channel._q_for_pri(queue, step) for step in channel.priority_steps}
            return sum(channel.client.llen(name) for name in names)
    except Exception:  # the status page reports what it can; /api/health names the failure
        logger.warning("could not read the queue depth", exc_info=True)
        return None


@extend_schema(summary="Health of the database, cache and broker", responses={200: dict, 503: dict})
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def health(request):
    results, failed = {}, []
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            note = check()
        except Exception as exc:  # noqa: BLE001 - any failure means "unhealthy", named below
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            failed.append(name)
        else:
            results[name] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
            if note:
                results[name]["note"] = note
    if failed:
        body = {"status": "unhealthy", "checks": results,
                "error": {"code": "unhealthy", "message": "Failing: " + ", ".join(failed) + ".", "fields": {}}}
        return Response(body, status=503)
    return Response({"status": "ok", "checks": results})


@extend_schema(summary="Version, counts and queue depth", responses={200: dict})
@api_view(["GET"])
@permission_classes([AllowAny])
def status_view(request):
    from django.contrib.auth import get_user_model

    from marketplace.selectors import catalog_counts

    # Keys are written in snake_case here and camelised by the renderer on /api/ only.
    return Response({
        "version": settings.VERSION,
        "debug": settings.DEBUG,
        "database": connection.vendor,
        "eager_tasks": bool(celery_app.conf.task_always_eager),
        "counts": {"users": get_user_model().objects.count(), **to_snake(catalog_counts())},
        "queue_depth": queue_depth(),
    })


def metrics_view(request):
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return error_response(401, "not_authenticated", "Send Authorization: Bearer <METRICS_TOKEN>.")
    return HttpResponse(metrics.render(), content_type=metrics.CONTENT_TYPE_LATEST)
