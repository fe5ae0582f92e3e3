"""Prometheus metrics. Under gunicorn, set PROMETHEUS_MULTIPROC_DIR so /metrics adds up all workers."""

import os

from prometheus_client import (  # noqa: F401
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("agenthub_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "agenthub_http_request_duration_seconds", "Time to answer an HTTP request", ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10),
)
DB_QUERIES = Counter("agenthub_db_queries_total", "Database queries made while answering requests", ["route"])


def observe_request(*, method: str, route: str, status: int, seconds: float, queries: int) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)
    if queries:
        DB_QUERIES.labels(route).inc(queries)


def render() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
