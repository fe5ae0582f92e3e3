"""Time a two-step chained HubChat request end to end (see chain.sh).

TASKS times, one after another: POST /api/tasks with "Summarize this and translate the summary
into Spanish: <text>", then poll GET /api/tasks/{id} every 5 ms until it is completed. Reported:
the time the client saw (post to completed; the poll adds up to 5 ms) and the server's own
(createdAt to completedAt), p50/p95/max, and where the server's time went: planning and quoting,
each step (from its start to its end, the Celery hop included), handing on, finishing. The first task also
probes the agents' health and warms caches: it is reported apart.
"""

import http.client
import json
import os
import statistics
import time
from datetime import datetime
from urllib.parse import urlsplit

BASE = os.environ["BENCH_BASE"]
TASKS = int(os.environ.get("TASKS", 100))
QUERY = ("Summarize this and translate the summary into Spanish: The red car is very fast. "
         "Solar power is now the cheapest source of new electricity in many countries. "
         "The price of solar panels has fallen by about ninety percent in a decade. "
         "Grid operators pair solar farms with batteries so that electricity is available after sunset.")


class Client:
    def __init__(self, base: str):
        parts = urlsplit(base)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.headers = {"Content-Type": "application/json"}

    def request(self, method, path, body=None):
        for attempt in (1, 2):  # gunicorn's sync workers close idle connections: reconnect once
            try:
                self.connection.request(method, path, json.dumps(body) if body is not None else None, self.headers)
                response = self.connection.getresponse()
                data = response.read()
                return response.status, json.loads(data) if data else {}
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                if attempt == 2:
                    raise
        raise AssertionError


def stats(samples):
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {"p50_ms": round(q[49], 1), "p95_ms": round(q[94], 1), "max_ms": round(ordered[-1], 1), "n": len(ordered)}


def one(client):
    started = time.perf_counter()
    status, task = client.request("POST", "/api/tasks", {"userQuery": QUERY, "maxBudget": "1"})
    assert status == 201, (status, task)
    while task["status"] not in ("completed", "failed", "cancelled"):
        time.sleep(0.005)
        status, task = client.request("GET", f"/api/tasks/{task['id']}")
    seen = (time.perf_counter() - started) * 1000
    assert task["status"] == "completed", task
    server = (datetime.fromisoformat(task["completedAt"]) - datetime.fromisoformat(task["createdAt"])).total_seconds()
    _, steps = client.request("GET", f"/api/tasks/{task['id']}/steps")
    assert [s["agentId"] for s in steps] == ["summarizer", "translator"], steps
    at = datetime.fromisoformat
    first, second = steps
    phases = {  # where the server's time went, in ms
        "plan_and_quote": at(first["startedAt"]) - at(task["createdAt"]),
        "step_1": at(first["completedAt"]) - at(first["startedAt"]),
        "hand_on": at(second["startedAt"]) - at(first["completedAt"]),
        "step_2": at(second["completedAt"]) - at(second["startedAt"]),
        "finish": at(task["completedAt"]) - at(second["completedAt"]),
    }
    return seen, server * 1000, {name: delta.total_seconds() * 1000 for name, delta in phases.items()}


def main():
    client = Client(BASE)
    status, body = client.request("POST", "/api/auth/login", {"username": "bench", "password": "bench-password-123"})
    assert status == 200, body
    client.headers["Authorization"] = f"Bearer {body['access']}"
    first = one(client)
    seen, server, phases = [], [], {}
    for _ in range(TASKS):
        client_ms, server_ms, parts = one(client)
        seen.append(client_ms)
        server.append(server_ms)
        for name, ms in parts.items():
            phases.setdefault(name, []).append(ms)
    print(json.dumps({
        "request": "summarise + translate the summary (2 chained steps)",
        "first_task_ms": {"client": round(first[0], 1), "server": round(first[1], 1)},
        "client_post_to_completed": stats(seen),
        "server_created_to_completed": stats(server),
        "server_phases": {name: stats(samples) for name, samples in phases.items()},
        "load_average_at_end": open("/proc/loadavg").read().split()[:3],
    }, indent=2))


if __name__ == "__main__":
    main()
