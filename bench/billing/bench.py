"""Holds and captures per second through billing.services (see run.sh).

Each run is `hold_place` then `hold_capture` of the agent's reported cost on its own Execution
row, exactly what a paid run does around the agent call, without HTTP or Celery. PROCESSES
worker processes (one database connection each, no GIL between them) share RUNS runs:

1. contended: every run on ONE wallet, so every hold and capture queues on that wallet's row
   (and every capture on the creator's earnings and the platform account rows);
2. distinct: the runs spread round-robin over WALLETS (100) wallets, so only the creator's and
   the platform's rows are shared.

Prints JSON: runs per second (one run = one hold + one capture) over the wall time of the
measured phase, and p50/p95 per operation in milliseconds.
"""

import json
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agenthub.settings")

import django

django.setup()

from django.db import connections  # noqa: E402

from accounts.models import User  # noqa: E402
from billing import services as ledger  # noqa: E402
from billing.models import Account, Hold  # noqa: E402
from marketplace.models import Agent  # noqa: E402
from orchestration.models import Execution  # noqa: E402

RUNS = int(os.environ.get("RUNS", 3000))
PROCESSES = int(os.environ.get("PROCESSES", 4))
WALLETS = int(os.environ.get("WALLETS", 100))
WARMUP = int(os.environ.get("WARMUP", 100))
PRICE = Decimal("0.0100")
REPORTED = Decimal("0.0080")


def percentile(samples, q):
    return round(statistics.quantiles(samples, n=100, method="inclusive")[q - 1], 2)


def worker(pks: list) -> dict:
    connections.close_all()  # never share the parent's connection
    executions = list(Execution.objects.filter(pk__in=pks).select_related("user", "agent__created_by"))
    hold_ms, capture_ms, errors = [], [], 0
    started = time.monotonic()
    for execution in executions:
        t0 = time.perf_counter()
        try:
            ledger.hold_place(execution=execution, amount=PRICE)
            t1 = time.perf_counter()
            charged = ledger.hold_capture(execution=execution, amount=REPORTED)
            t2 = time.perf_counter()
        except Exception:  # noqa: BLE001 - counted and reported; a healthy run has none
            errors += 1
            continue
        if charged != REPORTED:
            errors += 1
        hold_ms.append((t1 - t0) * 1000)
        capture_ms.append((t2 - t1) * 1000)
    finished = time.monotonic()
    connections.close_all()
    return {"started": started, "finished": finished, "hold_ms": hold_ms, "capture_ms": capture_ms, "errors": errors}


def scenario(name: str, users: list, agent: Agent, runs: int) -> dict:
    executions = [Execution(user=users[i % len(users)], agent=agent, input={"n": i}, price=PRICE)
                  for i in range(runs)]
    Execution.objects.bulk_create(executions, batch_size=1000)
    pks = [execution.pk for execution in executions]
    chunks = [pks[i::PROCESSES] for i in range(PROCESSES)]
    connections.close_all()
    with multiprocessing.get_context("fork").Pool(PROCESSES) as pool:
        results = pool.map(worker, chunks)
    hold_ms = [ms for result in results for ms in result["hold_ms"]]
    capture_ms = [ms for result in results for ms in result["capture_ms"]]
    wall = max(r["finished"] for r in results) - min(r["started"] for r in results)
    done = len(hold_ms)
    return {
        "scenario": name, "wallets": len(users), "runs": runs, "processes": PROCESSES,
        "completed": done, "errors": sum(r["errors"] for r in results),
        "seconds": round(wall, 2),
        "runs_per_second": round(done / wall, 1),
        "operations_per_second": round(2 * done / wall, 1),
        "hold_ms": {"p50": percentile(hold_ms, 50), "p95": percentile(hold_ms, 95)},
        "capture_ms": {"p50": percentile(capture_ms, 50), "p95": percentile(capture_ms, 95)},
        "run_ms": {"p50": percentile([h + c for h, c in zip(hold_ms, capture_ms, strict=True)], 50),
                   "p95": percentile([h + c for h, c in zip(hold_ms, capture_ms, strict=True)], 95)},
    }


def make_users(prefix: str, count: int) -> list:
    users = [User.objects.create_user(f"{prefix}{i}", f"{prefix}{i}@example.com") for i in range(count)]
    for user in users:
        ledger.wallet_credit(user=user, amount=Decimal("100000"), reference=f"bench:{uuid.uuid4()}")
    return users


def main():
    creator = User.objects.create_user("bench-creator", "bench-creator@example.com")
    agent = Agent.objects.create(slug="bench-paid", name="Bench (paid)", created_by=creator, status="active",
                                 is_public=True, transport="http", endpoint_url="http://127.0.0.1:9/",
                                 price_per_use=PRICE)
    one = make_users("contended", 1)
    many = make_users("distinct", WALLETS)
    scenario("warm-up", many, agent, WARMUP)
    results = [scenario("contended", one, agent, RUNS), scenario("distinct", many, agent, RUNS)]
    consistent = ledger.ledger_is_consistent()
    open_holds = Hold.objects.filter(status=Hold.Status.HELD).count()
    held = sum(Account.objects.values_list("held", flat=True))
    print(json.dumps({
        "results": results,
        "checks": {"ledger_is_consistent": consistent, "open_holds": open_holds, "held": str(held)},
        "settings": {"runs": RUNS, "processes": PROCESSES, "wallets": WALLETS, "price": str(PRICE),
                     "reported_cost": str(REPORTED)},
    }, indent=2))


if __name__ == "__main__":
    main()
