"""Celery tasks: thin and idempotent. Each loads by id and calls a service."""

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from marketplace.models import Agent
from orchestration import services
from orchestration.hubchat import services as hubchat


@shared_task(
    acks_late=True,
    ignore_result=True,  # the execution row is the result; storing None in Redis costs a round trip
    # The run's own deadline ends it first; these only stop a call that ignores it.
    soft_time_limit=settings.EXECUTION_TIMEOUT_SECONDS + 15,
    time_limit=settings.EXECUTION_TIMEOUT_SECONDS + 25,
)
def run_execution(execution_pk: str) -> None:
    """Run one execution. A second delivery finds it already claimed and does nothing."""
    services.execution_run(execution_pk)


@shared_task(acks_late=True)
def sweep_executions() -> dict:
    """Periodic (beat): end or retry runs whose worker vanished; requeue runs whose message was lost."""
    return services.executions_sweep()


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=30, time_limit=40)
def check_agent_health(agent_pk: str) -> None:
    agent = Agent.objects.filter(pk=agent_pk).select_related("current_version").first()
    if agent is not None:
        services.agent_health_check(agent=agent)


@shared_task(acks_late=True)
def check_all_agents_health() -> int:
    """Periodic (beat): one health check task per live agent."""
    pks = list(services.monitored_agents().values_list("pk", flat=True))
    for pk in pks:
        check_agent_health.delay(str(pk))
    return len(pks)


# --- HubChat tasks: each step is an execution; these move the task along. -----------------------


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=120, time_limit=150)
def plan_task(task_pk: str) -> None:
    """Plan, choose agents, quote; run at once within the auto-approve threshold. Once per task."""
    hubchat.task_plan(task_pk=task_pk)


@shared_task(acks_late=True, ignore_result=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def advance_task(task_pk: str) -> None:
    """Settle finished steps and start the ones that can start (queued again after every step's run)."""
    hubchat.task_advance(task_pk=task_pk)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=120, time_limit=150)
def answer_task(task_pk: str) -> None:
    """Write the assistant's answer for a finished HubChat task, once."""
    hubchat.task_answer(task_pk=task_pk)
