"""Measure the platform's overhead on one agent call, and executions per second (see run.sh).

1. direct: CALLS sequential `POST {agent}/execute` to the echo agent, one kept-alive connection.
2. platform: CALLS sequential `POST /api/agents/echo-http/execute?wait=10`: the request, the
   Celery hop over Redis, the worker's call to the same agent, the database writes, and the wake-up.
   The overhead is platform minus direct, at p50 and p95.
3. throughput: CLIENTS threads post EXECUTIONS executions (no wait); the rate is executions
   completed per second from the first post until the last one finished.
Prints JSON. Targets: overhead p50 < 25 ms, p95 < 100 ms; at least 100 executions/s.
"""

import http.client
import json
import os
import statistics
import threading
import time
import uuid
from urllib.parse import urlsplit

BASE = os.environ["BENCH_BASE"]
AGENT = os.environ["BENCH_AGENT_URL"]
CALLS = int(os.environ.get("CALLS", 300))
EXECUTIONS = int(os.environ.get("EXECUTIONS", 1000))
CLIENTS = int(os.environ.get("CLIENTS", 16))
BODY = {"text": "benchmark", "n": 1}


def percentile(samples, q):
    return round(statistics.quantiles(samples, n=100, method="inclusive")[q - 1], 2)


class Client:
    def __init__(self, base: str, token: str | None = None):
        parts = urlsplit(base)
        self.prefix = parts.path.rstrip("/")
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, body=None, headers=None) -> tuple[int, dict, dict]:
        for attempt in (1, 2):  # gunicorn's sync workers close idle connections: reconnect once
            try:
                self.connection.request(method, self.prefix + path, json.dumps(body) if body is not None else None,
                                        {**self.headers, **(headers or {})})
                response = self.connection.getresponse()
                data = response.read()
                return response.status, dict(response.getheaders()), json.loads(data) if data else {}
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                if attempt == 2:
                    raise
        raise AssertionError


def login() -> str:
    status, _, body = Client(BASE).request("POST", "/api/auth/login",
                                           {"username": "bench", "password": "bench-password-123"})
    assert status == 200, (status, body)
    return body["access"]


def timed(fn, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main():
    agent = Client(AGENT)

    def direct():
        status, _, body = agent.request("POST", "/execute", {"input": BODY, "config": {}, "executionId": "x"},
                                        {"Idempotency-Key": uuid.uuid4().hex})
        assert status == 200 and body["result"] == BODY, (status, body)

    platform = Client(BASE, login())

    def through_platform():
        status, _, body = platform.request("POST", "/api/agents/echo-http/execute?wait=10", {"input": BODY})
        assert status == 200 and body["status"] == "completed" and body["output"] == BODY, (status, body)

    timed(direct, 20), timed(through_platform, 20)  # warm-up: connections, caches, worker imports
    direct_ms = timed(direct, CALLS)
    platform_ms = timed(through_platform, CALLS)

    token = login()
    watcher = Client(BASE, token)

    def completed() -> int:
        _, headers, _ = watcher.request("GET", "/api/executions?status=completed&limit=1")
        return int(headers.get("X-Total-Count", 0))

    already = completed()
    posted = []
    lock = threading.Lock()

    def client(count: int):
        api = Client(BASE, token)
        for _ in range(count):
            status, _, body = api.request("POST", "/api/agents/echo-http/execute", {"input": BODY})
            assert status == 202, (status, body)
            with lock:
                posted.append(body["id"])

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(EXECUTIONS // CLIENTS,)) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    posting_s = time.perf_counter() - started
    expected = already + len(posted)
    while True:
        done = completed()
        if done >= expected or time.perf_counter() - started > 300:
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    _, headers, _ = watcher.request("GET", "/api/executions?status=failed&status=timeout&limit=1")

    p50 = lambda s: percentile(s, 50)  # noqa: E731
    p95 = lambda s: percentile(s, 95)  # noqa: E731
    print(json.dumps({
        "calls": CALLS,
        "direct_ms": {"p50": p50(direct_ms), "p95": p95(direct_ms)},
        "platform_ms": {"p50": p50(platform_ms), "p95": p95(platform_ms)},
        "overhead_ms": {"p50": round(p50(platform_ms) - p50(direct_ms), 2),
                        "p95": round(p95(platform_ms) - p95(direct_ms), 2)},
        "throughput": {"executions": len(posted), "clients": CLIENTS, "posting_seconds": round(posting_s, 2),
                       "completed_in_seconds": round(elapsed, 2),
                       "executions_per_second": round(len(posted) / elapsed, 1),
                       "not_completed": expected - done, "failed_or_timeout": int(headers.get("X-Total-Count", 0))},
        "targets": {"overhead_p50_ms": 25, "overhead_p95_ms": 100, "executions_per_second": 100},
    }, indent=2))


if __name__ == "__main__":
    main()
