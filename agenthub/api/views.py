"""Operational endpoints: health, status and Prometheus metrics."""

import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from agenthub import metrics
from agenthub.celery import app as celery_app


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    key = "health:probe"
    token = str(time.monotonic_ns())
    cache.set(key, token, 10)
    if cache.get(key) != token:
        raise RuntimeError("the cache did not return what was stored")


def _check_broker() -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return  # tasks run inline: there is no broker to reach
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


CHECKS = {"database": _check_database, "cache": _check_cache, "broker": _check_broker}


def queue_depth() -> int | None:
    """Messages waiting in the default Celery queue, or None when there is no broker."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return None
    with celery_app.connection_for_read() as conn:
        return conn.default_channel.client.llen(celery_app.conf.task_default_queue)


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
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means "unhealthy", named below
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            failed.append(name)
        else:
            results[name] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
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

    return Response({
        "version": settings.VERSION,
        "debug": settings.DEBUG,
        "database": connection.vendor,
        "eagerTasks": settings.CELERY_TASK_ALWAYS_EAGER,
        "counts": {"users": get_user_model().objects.count(), **catalog_counts()},
        "queueDepth": queue_depth(),
    })


def metrics_view(request):
    return HttpResponse(metrics.render(), content_type=metrics.CONTENT_TYPE_LATEST)
