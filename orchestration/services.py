"""Executions: asking for a run, running it in a worker, cancelling, sweeping, and agent health.

A run goes pending → running → completed / failed / timeout / cancelled. Every state change is
a conditional UPDATE on the status it comes from, so two workers, a worker and a cancel, or a
worker and the sweeper can race and only one of them wins.
"""

import hashlib
import logging
import socket
import time
from datetime import timedelta
from decimal import Decimal

import orjson
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.db.models.functions import Round
from django.utils import timezone

from accounts.models import User
from agenthub.errors import Conflict, InvalidInput
from billing import services as ledger
from billing.pricing import dynamic_price_expression, run_price
from marketplace.choices import LISTED_STATUSES, PricingModel
from marketplace.hirings import hiring_usable
from marketplace.models import Agent, AgentPackage, AgentVersion, Hiring
from orchestration import transports, wakeup
from orchestration.models import TERMINAL_STATUSES, Execution, ExecutionAttempt, ExecutionStatus, HealthCheck
from orchestration.transports import CallError, CallRequest, CallResult, CallTimeout, Target

logger = logging.getLogger(__name__)

EWMA_WEIGHT = Decimal("0.2")  # how much the latest run moves the agent's average response time
PENDING_REQUEUE_AFTER = timedelta(minutes=2)  # a pending run no worker took: its message was lost
Outcome = ExecutionAttempt.Outcome


def _request_hash(*, agent: Agent, input, hiring: Hiring | None) -> str:
    body = {"agent": str(agent.pk), "input": input, "hiring": str(hiring.pk) if hiring else None}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _enqueue(execution_pk) -> None:
    from orchestration.tasks import run_execution

    run_execution.delay(str(execution_pk))


def _wakeup_key(execution_pk) -> str:
    return f"execution:done:{execution_pk}"


def _ended(execution: Execution) -> None:
    """After the transaction that ended a run: wake its waiters and move its HubChat task along."""
    def follow_up():
        wakeup.notify(_wakeup_key(execution.pk))
        if execution.task_id:
            from orchestration.tasks import advance_task

            advance_task.delay(str(execution.task_id))

    transaction.on_commit(follow_up)


def execution_start(
    *, user: User, agent: Agent, input, hiring: Hiring | None = None, idempotency_key: str | None = None,
    source: str = "api", api_key=None, task=None, task_step=None, price: Decimal | None = None,
    config: dict | None = None,
) -> tuple[Execution, bool]:
    """Record a run and queue it. Returns (execution, created); a replayed idempotency key is not created.

    `api_key`: the key that asked (its cap applies). `task_step`: the HubChat step the run does;
    `task`: the task a run belongs to without being one of its steps (seed 004's invoke-agent).
    `price`: a price the user accepted in a quote, held and charged instead of the list price.
    `config`: settings for this run on top of the hiring's (e.g. a negotiated `quoteId`)."""
    if not isinstance(input, dict):
        raise InvalidInput("The input must be a JSON object.", fields={"input": ["Expected a JSON object."]})
    if agent.status not in LISTED_STATUSES:
        raise Conflict(f"The agent is {agent.status}; only approved or active agents run.", code="agent_not_active")
    if hiring is None:
        hiring = Hiring.objects.filter(user=user, agent=agent, status=Hiring.Status.ACTIVE).first()
    if hiring is not None:
        hiring_usable(hiring=hiring, agent=agent)
    elif agent.pricing_model == PricingModel.SUBSCRIPTION:
        raise Conflict("This agent is sold by subscription: hire it first (POST /api/hirings).",
                       code="hiring_required")
    request_hash = _request_hash(agent=agent, input=input, hiring=hiring)
    if idempotency_key:
        replay = _replayed(user=user, key=idempotency_key, request_hash=request_hash)
        if replay:
            return replay, False
    try:
        with transaction.atomic():
            execution = Execution.objects.create(
                user=user, agent=agent, version_id=agent.current_version_id, hiring=hiring, input=input,
                config={**(hiring.config if hiring else {}), **(config or {})}, idempotency_key=idempotency_key or None,
                request_hash=request_hash, source=source, api_key=api_key, task_step=task_step,
                task_id=task_step.task_id if task_step else task.pk if task else None,
                price=run_price(agent=agent, hiring=hiring) if price is None else price,
            )
            ledger.hold_place(execution=execution, amount=execution.price)  # 402 undoes the whole run
            transaction.on_commit(lambda: _enqueue(execution.pk))
    except IntegrityError:
        # The same key arrived twice at once and the other request won.
        replay = _replayed(user=user, key=idempotency_key, request_hash=request_hash) if idempotency_key else None
        if replay is None:
            raise
        return replay, False
    return execution, True


def _replayed(*, user: User, key: str, request_hash: str) -> Execution | None:
    existing = Execution.objects.filter(user=user, idempotency_key=key).first()
    if existing and existing.request_hash != request_hash:
        raise Conflict("This Idempotency-Key was used with a different request.", code="idempotency_key_reused")
    return existing


def agent_target(*, agent: Agent, version: AgentVersion | None = None) -> Target:
    """How to reach `version` of `agent` (the agent's own fields when there is no version)."""
    source = version or agent
    agent_id, code_hash = agent.pk, source.code_hash

    def package() -> bytes:
        content = AgentPackage.objects.filter(agent_id=agent_id, sha256=code_hash).values_list("content", flat=True)
        found = content.first()
        if found is None:
            raise transports.PermanentCallError("The agent's package was not uploaded.", code="no_package")
        return bytes(found)

    return Target(
        transport=source.transport, endpoint_url=source.endpoint_url, entry_point=source.entry_point,
        code_hash=code_hash, package=package, protocol_version=agent.protocol_version,
    )


def execution_run(execution_pk) -> None:
    """Run a pending execution to a terminal state (the worker's side). A second delivery does nothing."""
    claimed = _claim(execution_pk)
    if claimed is None:
        return
    execution, attempt = claimed
    target = agent_target(agent=execution.agent, version=execution.version)
    deadline = time.monotonic() + settings.EXECUTION_TIMEOUT_SECONDS
    backoff = float(settings.EXECUTION_RETRY_BACKOFF_SECONDS)
    while True:
        try:
            result = transports.call(target, CallRequest(
                execution_id=execution.execution_id, idempotency_key=execution.execution_id,
                input=execution.input, config=execution.config, timeout=max(deadline - time.monotonic(), 0.001),
            ))
        except CallError as error:
            timed_out = isinstance(error, CallTimeout)
            outcome = Outcome.TIMEOUT if timed_out else Outcome.TRANSIENT if error.transient else Outcome.FAILED
            wait = max(backoff, min(error.retry_after or 0, 30))
            retry = (error.transient and attempt.number < settings.EXECUTION_MAX_ATTEMPTS
                     and time.monotonic() + wait < deadline)
            if retry:
                _attempt_finish(attempt, outcome, error=error.message)
                time.sleep(wait)
                backoff *= 2
                if not _still_running(execution):
                    return  # cancelled while it waited
                attempt = _attempt_start(execution)
                continue
            _finish(execution, ExecutionStatus.TIMEOUT if timed_out else ExecutionStatus.FAILED,
                    attempt=(attempt, outcome), error=error.message, error_code=error.code)
            return
        except Exception as error:  # a bug must still end the run, not leave it running
            logger.exception("execution %s crashed", execution.execution_id)
            _finish(execution, ExecutionStatus.FAILED, attempt=(attempt, Outcome.FAILED),
                    error=f"Internal error ({type(error).__name__}).", error_code="internal_error")
            return
        completed = result.status == "completed"
        _finish(execution, ExecutionStatus.COMPLETED if completed else ExecutionStatus.FAILED,
                attempt=(attempt, Outcome.COMPLETED if completed else Outcome.FAILED),
                result=result, error=result.error, error_code="" if completed else "agent_failed")
        return


@transaction.atomic
def _claim(execution_pk) -> tuple[Execution, ExecutionAttempt] | None:
    """Take a pending execution and open its first attempt, in one transaction; None when taken already."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.EXECUTION_TIMEOUT_SECONDS + settings.EXECUTION_LEASE_GRACE_SECONDS)
    claimed = Execution.objects.filter(pk=execution_pk, status=ExecutionStatus.PENDING).update(
        status=ExecutionStatus.RUNNING, started_at=now, lease_expires_at=lease, attempt_count=F("attempt_count") + 1
    )
    if not claimed:
        return None
    execution = Execution.objects.select_related("agent", "version").only(*RUN_FIELDS).get(pk=execution_pk)
    attempt = ExecutionAttempt.objects.create(
        execution=execution, number=execution.attempt_count, started_at=now, worker=_HOSTNAME
    )
    return execution, attempt


_HOSTNAME = socket.gethostname()
# What a worker reads to run an execution: not the agent's catalog text or search vector.
_TARGET_FIELDS = ("transport", "endpoint_url", "entry_point", "code_hash")
RUN_FIELDS = (
    "execution_id", "user_id", "agent_id", "version_id", "hiring_id", "task_id", "task_step_id", "input", "config",
    "price", "started_at",
    "attempt_count", *(f"agent__{name}" for name in (*_TARGET_FIELDS, "protocol_version", "created_by_id", "name")),
    *(f"version__{name}" for name in (*_TARGET_FIELDS, "number")),
)


def _still_running(execution: Execution) -> bool:
    return Execution.objects.filter(pk=execution.pk, status=ExecutionStatus.RUNNING).exists()


def _attempt_start(execution: Execution) -> ExecutionAttempt:
    with transaction.atomic():
        Execution.objects.filter(pk=execution.pk).update(attempt_count=F("attempt_count") + 1)
        number = Execution.objects.values_list("attempt_count", flat=True).get(pk=execution.pk)
        return ExecutionAttempt.objects.create(
            execution=execution, number=number, started_at=timezone.now(), worker=_HOSTNAME
        )


def _attempt_finish(attempt: ExecutionAttempt, outcome: str, *, error: str = "", now=None) -> None:
    finished = now or timezone.now()
    ExecutionAttempt.objects.filter(pk=attempt.pk).update(
        outcome=outcome, error=error[:2000], finished_at=finished,
        duration_ms=int((finished - attempt.started_at).total_seconds() * 1000),
    )


def _megabytes(value: int | None) -> float | None:
    return None if value is None else round(value / 1_048_576, 3)


@transaction.atomic
def _finish(execution: Execution, status: str, *, attempt: tuple[ExecutionAttempt, str] | None = None,
            result: CallResult | None = None, error: str = "", error_code: str = "") -> bool:
    """Close the last attempt and move the running execution to `status`, charge or release it and
    count it, in one transaction; False when something else (a cancel, the sweeper) ended it first."""
    now = timezone.now()
    if attempt is not None:
        _attempt_finish(attempt[0], attempt[1], error=error, now=now)
    duration_ms = int((now - execution.started_at).total_seconds() * 1000) if execution.started_at else None
    fields = {"status": status, "completed_at": now, "lease_expires_at": None, "error": error[:10000],
              "error_code": error_code, "duration_ms": duration_ms}
    if result is not None:
        fields.update(
            output=result.output, reported_cost=result.cost, cpu_usage=result.usage.cpu_seconds,
            memory_usage=_megabytes(result.usage.memory_bytes), disk_usage=_megabytes(result.usage.disk_bytes),
        )
    if not execution.price:
        fields["cost"] = Decimal("0")  # a free run: no hold to settle
    if not Execution.objects.filter(pk=execution.pk, status=ExecutionStatus.RUNNING).update(**fields):
        return False
    if execution.price:
        _settle(execution, completed=status == ExecutionStatus.COMPLETED,
                reported_cost=result.cost if result else None, result=result)
    _count_run(execution, status=status, duration_ms=duration_ms, now=now)
    _ended(execution)
    return True


def _settle(execution: Execution, *, completed: bool, reported_cost: Decimal | None = None,
            result: CallResult | None = None) -> None:
    """Charge a completed run (its reported cost, at most its price, plus any external tool cost it
    reported, all within the hold), release a hold otherwise."""
    external = {"external_cost": result.external_cost, "vendor": result.external_vendor} if result else {}
    charged = ledger.hold_capture(execution=execution, amount=reported_cost, **external) if completed else Decimal("0")
    if not completed:
        ledger.hold_release(execution=execution)
    Execution.objects.filter(pk=execution.pk).update(cost=charged)


def _count_run(execution: Execution, *, status: str, duration_ms: int | None, now) -> None:
    completed = status == ExecutionStatus.COMPLETED
    counters = {"total_executions": F("total_executions") + 1}
    if completed:
        counters["jobs_completed"] = F("jobs_completed") + 1
        if duration_ms is not None:
            counters["avg_response_time"] = _ewma(duration_ms)
    elif status in (ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT):
        counters["jobs_failed"] = F("jobs_failed") + 1
    Agent.objects.filter(pk=execution.agent_id).update(**counters)
    if execution.hiring_id:
        Hiring.objects.filter(pk=execution.hiring_id).update(
            total_executions=F("total_executions") + 1, last_executed_at=now
        )


def _ewma(sample_ms: int):
    """The agent's average response time moved toward `sample_ms`; the first sample sets it."""
    return Case(
        When(Q(avg_response_time=0), then=Value(sample_ms)),
        default=Round(F("avg_response_time") * (1 - EWMA_WEIGHT) + Value(sample_ms) * EWMA_WEIGHT),
        output_field=IntegerField(),
    )


def execution_cancel(*, execution: Execution) -> Execution:
    now = timezone.now()
    with transaction.atomic():
        cancelled = Execution.objects.filter(
            pk=execution.pk, status__in=(ExecutionStatus.PENDING, ExecutionStatus.RUNNING)
        ).update(status=ExecutionStatus.CANCELLED, completed_at=now, lease_expires_at=None,
                 error="Cancelled by the user.", error_code="cancelled")
        if cancelled:
            _settle(execution, completed=False)
    execution.refresh_from_db()
    if not cancelled:
        raise Conflict(f"The execution is {execution.status}; it can no longer be cancelled.",
                       code="invalid_transition")
    if execution.started_at:
        Execution.objects.filter(pk=execution.pk).update(
            duration_ms=int((now - execution.started_at).total_seconds() * 1000)
        )
        execution.refresh_from_db()
    ExecutionAttempt.objects.filter(execution=execution, outcome=Outcome.RUNNING).update(
        outcome=Outcome.FAILED, error="Cancelled.", finished_at=now
    )
    _ended(execution)
    return execution


def execution_wait(*, execution: Execution, timeout: float) -> Execution:
    """Wait up to `timeout` seconds for a terminal state; returns the execution as it then is
    (with its agent and version loaded). With Redis, the worker's signal wakes the wait at once."""
    deadline = time.monotonic() + timeout
    runs = Execution.objects.select_related("agent", "version")
    while True:
        execution = runs.get(pk=execution.pk)
        remaining = deadline - time.monotonic()
        if execution.status in TERMINAL_STATUSES or remaining <= 0:
            return execution
        if not wakeup.wait(_wakeup_key(execution.pk), min(remaining, 1.0)) and not settings.REDIS_URL:
            time.sleep(min(remaining, 0.05))


def executions_sweep(*, now=None) -> dict:
    """End or retry runs whose worker vanished, and requeue runs whose message was lost."""
    now = now or timezone.now()
    retried = failed = 0
    for execution in Execution.objects.filter(status=ExecutionStatus.RUNNING, lease_expires_at__lt=now):
        ExecutionAttempt.objects.filter(execution=execution, outcome=Outcome.RUNNING).update(
            outcome=Outcome.WORKER_LOST, error="The worker stopped before the call ended.", finished_at=now
        )
        stale = Execution.objects.filter(pk=execution.pk, status=ExecutionStatus.RUNNING, lease_expires_at__lt=now)
        if execution.attempt_count < settings.EXECUTION_MAX_ATTEMPTS:
            if stale.update(status=ExecutionStatus.PENDING, lease_expires_at=None):
                transaction.on_commit(lambda pk=execution.pk: _enqueue(pk))
                retried += 1
        elif _finish_lost(execution, stale):
            failed += 1
    requeued = 0
    for pk in Execution.objects.filter(
        status=ExecutionStatus.PENDING, created_at__lt=now - PENDING_REQUEUE_AFTER
    ).values_list("pk", flat=True):
        _enqueue(pk)  # claiming is conditional: if the first message does arrive, one of them does nothing
        requeued += 1
    return {"retried": retried, "failed": failed, "requeued": requeued}


@transaction.atomic
def _finish_lost(execution: Execution, stale) -> bool:
    now = timezone.now()
    duration_ms = int((now - execution.started_at).total_seconds() * 1000) if execution.started_at else None
    if not stale.update(status=ExecutionStatus.FAILED, completed_at=now, lease_expires_at=None,
                        duration_ms=duration_ms, error="The worker running this execution stopped.",
                        error_code="worker_lost"):
        return False
    _settle(execution, completed=False)
    _count_run(execution, status=ExecutionStatus.FAILED, duration_ms=duration_ms, now=now)
    _ended(execution)
    return True


# --- Health ---------------------------------------------------------------------------------------


def monitored_agents():
    return Agent.objects.filter(status__in=LISTED_STATUSES).exclude(endpoint_url="", code_hash="")


def agent_health_check(*, agent: Agent) -> HealthCheck:
    """Probe one agent, record the check, and update its availability, load and response time."""
    target = agent_target(agent=agent, version=agent.current_version)
    started = time.monotonic()
    try:
        result = transports.health(target)
        ok, load, response_ms, detail = result.ok, result.load, result.response_ms, result.detail
    except CallError as error:
        ok, load, detail = False, None, error.message
        response_ms = int((time.monotonic() - started) * 1000)
    check = HealthCheck.objects.create(agent=agent, ok=ok, load=load, response_ms=response_ms, detail=detail[:500])
    now = timezone.now()
    if ok:
        fields = {"availability": True, "health_failures": 0, "health_checked_at": now,
                  "avg_response_time": _ewma(response_ms)}
        if load is not None:
            fields["load"] = min(max(load, 0.0), 1.0)
            fields["dynamic_price"] = dynamic_price_expression(fields["load"])
    else:
        failures = F("health_failures") + 1
        fields = {
            "health_failures": failures, "health_checked_at": now,
            "availability": Case(
                When(health_failures__gte=settings.AGENT_HEALTH_FAILURES_UNAVAILABLE - 1, then=Value(False)),
                default=F("availability"),
            ),
        }
    Agent.objects.filter(pk=agent.pk).update(**fields)
    keep = HealthCheck.objects.filter(agent=agent).values_list("pk", flat=True)[: settings.AGENT_HEALTH_HISTORY]
    HealthCheck.objects.filter(agent=agent).exclude(pk__in=list(keep)).delete()
    return check
