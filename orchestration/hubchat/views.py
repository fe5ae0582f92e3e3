"""Pages of HubChat and of tasks: the conversation, the task list, one task, confirm and cancel.

Thin, like the other pages: reads are scoped to the signed-in user (someone else's task is a
404), writes go through `orchestration.hubchat.services`. Every page works without JavaScript
(forms post here and come back, Post/Redirect/Get); with it, `static/js/hubchat.js` sends through
the JSON API and follows a task over its event stream (`hubchat.events`), swapping in the
fragments drawn here (`turn`, `task_panel`) so that what is shown always comes from one template.
"""

from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from agenthub.errors import DomainError
from agenthub.formatting import money
from billing import services as ledger
from orchestration.api.tasks import TaskFilterSet
from orchestration.hubchat import services
from orchestration.hubchat.forms import MessageForm, TaskFilterForm
from orchestration.models import Message as ChatMessage
from orchestration.models import StepStatus, Task, TaskStatus, TaskStep
from orchestration.views import duration_text

PAGE_SIZE = 20
CONVERSATION_LENGTH = 60  # messages drawn on the HubChat page; the task list has the rest


# --- Presentation --------------------------------------------------------------------------------


def bb(amount) -> str:
    return "—" if amount is None else f"{money(Decimal(str(amount)))} BB"


def _percent(value) -> str:
    return "—" if value is None else f"{float(value) * 100:.0f}%"


def present_candidate(candidate: dict, *, chosen: dict) -> dict:
    """One agent considered for a step (TaskStep.selection's shape), with its figures as text."""
    rating, score = candidate.get("rating"), candidate.get("score")
    return {
        **candidate,
        "is_chosen": bool(candidate.get("chosen")) or candidate.get("agent") == chosen.get("agent"),
        "price_text": bb(candidate.get("price")),
        "score_text": "—" if score is None else f"{float(score):.3f}",
        "load_text": _percent(candidate.get("load")),
        "success_text": _percent(candidate.get("successRate")),
        "rating_text": f"{float(rating):.1f}" if rating else "—",
    }


def present_step(step: TaskStep) -> TaskStep:
    selection = step.selection or {}
    chosen = selection.get("chosen") or {}
    step.chosen = present_candidate(chosen, chosen=chosen) if chosen else {}
    step.chosen["reason"] = chosen.get("reason", "")
    step.candidates = [present_candidate(candidate, chosen=chosen) for candidate in selection.get("candidates", [])]
    step.passed_over = [candidate for candidate in step.candidates if not candidate["is_chosen"]]
    step.negotiation = selection.get("negotiation")
    step.fallbacks = selection.get("fallbacks", [])
    step.price_text = bb(step.price)
    step.cost_text = bb(step.cost) if step.status == StepStatus.COMPLETED else "—"
    step.external_text = bb(step.external_cost) if step.external_cost else "—"
    step.charged = step.cost + step.external_cost
    step.charged_text = bb(step.charged)
    step.time_text = duration_text(step.execution_time)
    step.live = step.status in (StepStatus.PENDING, StepStatus.RUNNING)
    step.label = step.subtask_type.replace("_", " ").capitalize()
    step.depends_on_text = ", ".join(str(position + 1) for position in step.depends_on or [])
    return step


def present_task(task: Task, *, answer: ChatMessage | None = None) -> Task:
    """The task with its steps and the texts the templates show. `task.steps` must be prefetched
    (`tasks_with_steps`) or it is read here."""
    steps = [present_step(step) for step in task.steps.all()]
    task.step_list = steps
    task.answer = present_answer(answer) if answer is not None else None
    task.budget_text = bb(task.max_budget)
    task.quote_text = bb(task.quote_total)
    task.cost_text = bb(task.total_cost)
    task.planning = task.status == TaskStatus.CREATED
    task.can_confirm = task.status == TaskStatus.AWAITING_CONFIRMATION
    task.can_cancel = not task.is_terminal
    task.done_count = sum(1 for step in steps if step.status == StepStatus.COMPLETED)
    task.answer_due = task.is_terminal and task.source == "hubchat" and answer is None
    # Moving: something will change without the user (planning, running, the answer being written);
    # a quote waiting for the user does not move, and is not followed live.
    task.moving = task.status in (TaskStatus.CREATED, TaskStatus.IN_PROGRESS) or task.answer_due
    task.notes = [str(note) for note in (task.planner_notes or [])]
    task.running_step = next((step for step in steps if step.status == StepStatus.RUNNING), None)
    return task


def present_answer(message: ChatMessage) -> ChatMessage:
    breakdown = message.cost_breakdown or {}
    message.breakdown_rows = [
        {"agent": row.get("agent") or row.get("agent_id") or "—", "agent_id": row.get("agent_id"),
         "skill": (row.get("skill") or "").replace("_", " "), "cost_text": bb(row.get("cost"))}
        for row in breakdown.get("subtasks", []) if isinstance(row, dict)
    ]
    message.breakdown_total = bb(breakdown["total"]) if "total" in breakdown else None
    return message


def _own_tasks(request) -> QuerySet[Task]:
    return Task.objects.filter(user=request.user)


def _own_task(request, pk) -> Task:
    return get_object_or_404(services.tasks_with_steps(_own_tasks(request)), pk=pk)


def _answer_of(task: Task) -> ChatMessage | None:
    return ChatMessage.objects.filter(task=task, role=ChatMessage.Role.ASSISTANT).first()


def wallet_texts(user) -> dict:
    """The side panel's figures: what is available, held, and the auto-approve threshold."""
    summary = ledger.wallet_summary(user=user)
    return {
        "available": bb(summary["available"]), "balance": bb(summary["balance"]), "held": bb(summary["held"]),
        "threshold": bb(summary["caps"]["auto_approve_threshold"]),
        "threshold_value": summary["caps"]["auto_approve_threshold"], "available_value": summary["available"],
    }


# --- HubChat -------------------------------------------------------------------------------------


def conversation(user) -> list[dict]:
    """The last messages, oldest first, as turns: a request with its task (the answer inside the
    task's card), or a message of its own (an answer whose request is older than what is shown)."""
    recent = list(ChatMessage.objects.filter(user=user).order_by("-created_at")[:CONVERSATION_LENGTH])[::-1]
    task_ids = {message.task_id for message in recent if message.task_id}
    tasks = {task.pk: task for task in services.tasks_with_steps(Task.objects.filter(user=user, pk__in=task_ids))}
    answers = {message.task_id: message for message in ChatMessage.objects.filter(
        user=user, task_id__in=task_ids, role=ChatMessage.Role.ASSISTANT)}
    requested = {message.task_id for message in recent if message.role == ChatMessage.Role.USER and message.task_id}
    turns = []
    for message in recent:
        if message.role == ChatMessage.Role.USER and message.task_id in tasks:
            task = present_task(tasks[message.task_id], answer=answers.get(message.task_id))
            turns.append({"message": message, "task": task})
        elif message.role == ChatMessage.Role.USER or message.task_id not in requested:
            turns.append({"message": present_answer(message) if message.role == "assistant" else message,
                          "task": None})
    return turns


@login_required
def hubchat(request):
    form = MessageForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            _, task = services.hubchat_message_send(user=request.user, content=form.cleaned_data["content"],
                                                    max_budget=form.cleaned_data["max_budget"])
        except DomainError as error:
            form.add_service_error(error)
        else:
            return redirect(f"{reverse('hubchat:hubchat')}#task-{task.pk}")
    turns = conversation(request.user)
    return render(request, "orchestration/hubchat.html", {
        "form": form, "turns": turns, "wallet": wallet_texts(request.user),
        "moving": any(turn["task"] is not None and turn["task"].moving for turn in turns),
        "default_budget": bb(settings.HUBCHAT_DEFAULT_MAX_BUDGET),
        "older": ChatMessage.objects.filter(user=request.user).count() > CONVERSATION_LENGTH,
    }, status=400 if form.errors else 200)


@login_required
def turn(request, pk):
    """One request and its task's card, for the script that follows the task."""
    task = _own_task(request, pk)
    message = ChatMessage.objects.filter(task=task, role=ChatMessage.Role.USER).first()
    return render(request, "orchestration/_hubchat_turn.html", {
        "turn": {"message": message, "task": present_task(task, answer=_answer_of(task))},
        "wallet": wallet_texts(request.user),
    })


# --- Tasks -----------------------------------------------------------------------------------------


@login_required
def task_list(request):
    own = _own_tasks(request)
    form = TaskFilterForm(request.GET or None)
    params = QueryDict(mutable=True)
    if form.is_valid():
        for name in ("status", "q"):
            if form.cleaned_data.get(name):
                params[name] = form.cleaned_data[name]
    # One set of filter rules for the page and the API (TaskFilterSet); a bad filter shows no rows.
    filterset = TaskFilterSet(data=params, queryset=own, request=request)
    tasks = filterset.qs.order_by("-created_at") if not form.errors else own.none()
    counts = dict(own.order_by().values_list("status").annotate(n=Count("pk")))
    page = Paginator(tasks.annotate(step_count=Count("steps")), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    for task in rows:
        task.budget_text, task.cost_text, task.quote_text = (bb(task.max_budget), bb(task.total_cost),
                                                             bb(task.quote_total))
    return render(request, "orchestration/task_list.html", {
        "form": form, "page": page, "tasks": rows, "has_any": bool(counts),
        "filtered": bool(params) or bool(form.errors), "total": sum(counts.values()),
        "counts": [(value, label, counts[value]) for value, label in TaskStatus.choices if counts.get(value)],
        "page_numbers": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
    })


def _detail_context(request, pk) -> dict:
    task = _own_task(request, pk)
    return {"task": present_task(task, answer=_answer_of(task)), "wallet": wallet_texts(request.user)}


@login_required
def task_detail(request, pk):
    return render(request, "orchestration/task_detail.html", _detail_context(request, pk))


@login_required
def task_panel(request, pk):
    """The live part of the task page, for the script that follows the task."""
    return render(request, "orchestration/_task_panel.html", _detail_context(request, pk))


def _back(request, task: Task) -> str:
    """Where a confirm or cancel form came from (only a page of this site), else the task's page."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return reverse("hubchat:task_detail", args=[task.pk])


def _task_act(request, pk, act, done: str):
    """Confirm or cancel one of the user's tasks through its service; the outcome shows as a message."""
    task = get_object_or_404(_own_tasks(request), pk=pk)
    try:
        act(task=task)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done.format(quote=bb(task.quote_total or 0)))
    return redirect(_back(request, task))


@login_required
@require_POST
def task_confirm(request, pk):
    return _task_act(request, pk, services.task_confirm, "Confirmed: the task runs for at most {quote}.")


@login_required
@require_POST
def task_cancel(request, pk):
    return _task_act(request, pk, services.task_cancel, "The task was cancelled.")
