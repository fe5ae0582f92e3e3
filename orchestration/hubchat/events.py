"""A task's progress as server-sent events: `GET /api/tasks/{id}/events`.

The stream (text/event-stream) sends an event `task` at once and then whenever the task, one of
its steps or its answer changed: `{"task": …, "steps": […], "answer": … | null}`, in the shapes of
`GET /api/tasks/{id}`, `/steps` and `/api/messages` (camelCase under /api/, snake_case under
/api/v1/). A comment line every HEARTBEAT_SECONDS keeps proxies from closing a quiet stream. It
ends with an event `end` — `{"reason": "settled" | "timeout", "status", "settled"}` — once the
task is over and its answer written (`settled`: stop listening), or after MAX_SECONDS, when the
browser's EventSource reconnects and gets a fresh snapshot.

It watches the database: every POLL_SECONDS a cheap fingerprint (three small queries, without
the results' text) is compared with the last one; only a change builds and sends the full snapshot.
Nothing in the services has to signal it, so it sees every writer: workers on other machines,
the admin, a cancel from another tab.

It works on any WSGI server: a StreamingHttpResponse holds one thread while it is open. A
gunicorn *sync* worker is a whole process, and its arbiter kills a worker busy for longer than
`--timeout` (30 s by default), so there the stream ends after SINGLE_THREAD_MAX_SECONDS; run
gthread workers (as the README does) for long streams and many listeners.
"""

import logging
import time
from collections.abc import Iterator

from django.db import DatabaseError, close_old_connections
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.views import APIView

from agenthub.api.ownership import owned_by
from agenthub.api.renderers import ApiJSONRenderer
from orchestration.models import Message, Task, TaskStep

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.4
HEARTBEAT_SECONDS = 15.0
MAX_SECONDS = 60.0
SINGLE_THREAD_MAX_SECONDS = 20.0  # under gunicorn's default 30 s worker timeout
ANSWER_GRACE_SECONDS = 10.0  # after the end, how long to wait for the answer another worker writes
RETRY_MS = 2000  # how soon the browser reconnects after a stream ends without `settled`


def task_snapshot(task: Task) -> dict:
    """The task, its steps and its answer, as the API serializes them (snake_case; the renderer
    makes them camelCase)."""
    from orchestration.api.tasks import MessageSerializer, TaskSerializer, TaskStepSerializer

    steps = task.steps.select_related("agent").order_by("position")
    answer = Message.objects.filter(task=task, role=Message.Role.ASSISTANT).first()
    return {
        "task": TaskSerializer(task).data,
        "steps": TaskStepSerializer(steps, many=True).data,
        "answer": MessageSerializer(answer).data if answer else None,
    }


def fingerprint(task: Task) -> tuple:
    """What changes when anything shown changes (the steps' and answer's text are left out: they
    change along with a status)."""
    steps = tuple(TaskStep.objects.filter(task_id=task.pk).order_by("position").values_list(
        "id", "status", "agent_id", "price", "cost", "external_cost", "attempts", "execution_time", "error",
        "started_at", "completed_at",
    ))
    answer = Message.objects.filter(task_id=task.pk, role=Message.Role.ASSISTANT).values_list("id", flat=True).first()
    return (task.status, task.max_budget, task.total_cost, task.quote_total, task.planner, task.error,
            task.confirmed_at, task.started_at, task.completed_at), steps, answer


def settled(task: Task, *, answered: bool) -> bool:
    """Over for good: the task ended, and its answer (a HubChat task's) is written or overdue."""
    if not task.is_terminal:
        return False
    if task.source != "hubchat" or answered:
        return True
    ended = task.completed_at or timezone.now()
    return (timezone.now() - ended).total_seconds() > ANSWER_GRACE_SECONDS


def _event(name: str, data: bytes) -> bytes:
    # orjson writes no newlines, so the JSON fits on one `data:` line.
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"


def task_events(*, task_pk, render, max_seconds: float) -> Iterator[bytes]:
    """The stream's lines. `render(data) -> bytes` writes JSON in the caller's dialect."""
    started = last_write = time.monotonic()
    previous = None
    yield f"retry: {RETRY_MS}\n\n".encode()
    try:
        while True:
            task = Task.objects.filter(pk=task_pk).first()
            if task is None:  # deleted meanwhile
                yield _event("end", render({"reason": "gone", "status": None, "settled": True}))
                return
            current = fingerprint(task)
            if current != previous:
                previous = current
                yield _event("task", render(task_snapshot(task)))
                last_write = time.monotonic()
            if settled(task, answered=current[2] is not None):
                yield _event("end", render({"reason": "settled", "status": task.status, "settled": True}))
                return
            now = time.monotonic()
            if now - started >= max_seconds:
                yield _event("end", render({"reason": "timeout", "status": task.status, "settled": False}))
                return
            if now - last_write >= HEARTBEAT_SECONDS:
                yield b": keep-alive\n\n"
                last_write = now
            time.sleep(POLL_SECONDS)
    except DatabaseError:
        # The database went away mid-stream: stop; the browser reconnects (or falls back to polling).
        logger.warning("task event stream for %s stopped: database error", task_pk, exc_info=True)
        close_old_connections()


class _AnswerErrorsInJSON(DefaultContentNegotiation):
    """EventSource asks for text/event-stream, which no renderer writes: errors (401, 404) are JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            return renderers[0], renderers[0].media_type


class TaskEventsView(APIView):
    """A task's progress as server-sent events (see the module's docstring). Owner only: 404 otherwise."""

    permission_classes = [permissions.IsAuthenticated]
    renderer_classes = [ApiJSONRenderer]
    content_negotiation_class = _AnswerErrorsInJSON
    required_scope = "read"

    @extend_schema(
        summary="Follow a task: server-sent events",
        description=(
            "text/event-stream. Event `task`: `{task, steps, answer}` as GET /api/tasks/{id}, /steps and the "
            "assistant's message; sent at once, then on every change. A comment every 15 s keeps the connection "
            "open. Event `end`: `{reason, status, settled}` when the task is over and answered (`settled`), or "
            "after about a minute, when the client reconnects."
        ),
        responses={(200, "text/event-stream"): OpenApiResponse(OpenApiTypes.STR, description="The event stream."),
                   404: OpenApiResponse(description="No such task of yours.")},
    )
    def get(self, request, pk):
        task = get_object_or_404(owned_by(Task.objects.all(), user=request.user), pk=pk)
        renderer, context = ApiJSONRenderer(), {"request": request}
        threads = request.META.get("wsgi.multithread", True)
        response = StreamingHttpResponse(
            task_events(task_pk=task.pk, render=lambda data: renderer.render(data, renderer_context=context),
                        max_seconds=MAX_SECONDS if threads else min(MAX_SECONDS, SINGLE_THREAD_MAX_SECONDS)),
            content_type="text/event-stream",
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
        return response
