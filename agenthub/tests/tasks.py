"""Test-only Celery tasks (registered when the test modules import them)."""

from celery import shared_task

from agenthub.logging import get_request_id


@shared_task
def report_request_id() -> str | None:
    """What the worker running this task sees as the request id."""
    return get_request_id()


@shared_task
def rename_user(username: str, full_name: str) -> int:
    """Reads and writes the database from wherever the task runs; answers how many users there are."""
    from accounts.models import User

    User.objects.filter(username=username).update(full_name=full_name)
    return User.objects.count()
