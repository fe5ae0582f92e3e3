"""The Celery app. Its settings live in Django's settings under the CELERY_ prefix."""

import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

from agenthub import logging as request_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agenthub.settings")

app = Celery("agenthub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@before_task_publish.connect
def _carry_request_id(headers=None, **kwargs):
    # The request that enqueues a task hands its id on, so one id follows the work.
    request_id = request_logging.get_request_id()
    if headers is not None and request_id and "request_id" not in headers:
        headers["request_id"] = request_id


def _is_eager(task) -> bool:
    return task is not None and bool(getattr(task.request, "is_eager", False))


@task_prerun.connect
def _adopt_request_id(task=None, **kwargs):
    # An eager task runs inline, inside the request (or task) that started it: it already
    # carries that id, and must not wipe it for the rest of the request.
    if _is_eager(task):
        return
    request_logging.set_request_id(getattr(task.request, "request_id", None) if task else None)


@task_postrun.connect
def _forget_request_id(task=None, **kwargs):
    if _is_eager(task):
        return
    request_logging.set_request_id(None)
