"""Tasks and the HubChat conversation: create, plan, quote, confirm, run, cancel, answer.

A task moves created → (awaiting_confirmation →) in_progress → completed / failed, or to
cancelled from any state before the end. Every move is a conditional UPDATE or happens under the
task's row lock, so a worker, a second delivery and the user's cancel can race and one wins.

Running is event-driven: `task_advance` looks at the steps, settles the ones whose execution
ended, and starts every step whose dependencies are complete, each as an execution of the runtime
(its own hold and capture, queued on Celery, so independent steps run in parallel on the
workers). When a step's execution ends, the runtime queues `advance_task` again. Advancing twice
is harmless: a step is started only from `pending`, settled only from `running`.
"""

import logging
from decimal import Decimal

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import F, Prefetch
from django.utils import timezone

from accounts.models import User
from agenthub.errors import Conflict, InvalidInput
from agenthub.formatting import money
from billing import services as ledger
from billing.models import StripePayment
from orchestration.hubchat import selection
from orchestration.hubchat.plan import Plan
from orchestration.models import (
    TASK_TERMINAL_STATUSES,
    Execution,
    ExecutionStatus,
    Message,
    StepStatus,
    Task,
    TaskStatus,
    TaskStep,
)

logger = logging.getLogger(__name__)

ZERO = Decimal("0")
MAX_QUERY_CHARS = 200_000
STEP_DONE = (StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.CANCELLED, StepStatus.SKIPPED)


def _enqueue(task_name: str, task_pk) -> None:
    from orchestration import tasks

    getattr(tasks, task_name).delay(str(task_pk))


def _budget(value, *, field: str = "max_budget") -> Decimal:
    try:
        budget = ledger.money(value)
    except (ArithmeticError, TypeError, ValueError):
        raise InvalidInput("Give the budget as a number of BB.", fields={field: ["A number is required."]}) from None
    if budget <= 0 or budget > settings.HUBCHAT_MAX_BUDGET:
        raise InvalidInput(f"The budget must be more than 0 and at most {settings.HUBCHAT_MAX_BUDGET} BB.",
                           fields={field: [f"Between 0.0001 and {settings.HUBCHAT_MAX_BUDGET} BB."]})
    return budget


def _query(value: str, *, field: str) -> str:
    query = (value or "").strip()
    if not query:
        raise InvalidInput("Say what you need.", fields={field: ["This field may not be blank."]})
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(f"The request is longer than {MAX_QUERY_CHARS:,} characters.",
                           fields={field: [f"At most {MAX_QUERY_CHARS:,} characters."]})
    return query


# --- Creating --------------------------------------------------------------------------------------


def task_create(*, user: User, user_query: str, max_budget, required_skills: list[str] | None = None,
                source: str = "api", api_key=None) -> Task:
    """Record a task and queue its planning (which quotes it, and runs it when the quote is within
    the user's auto-approve threshold)."""
    task = Task.objects.create(
        user=user, user_query=_query(user_query, field="user_query"), max_budget=_budget(max_budget),
        required_skills=list(required_skills or []), source=source, api_key=api_key,
    )
    transaction.on_commit(lambda: _enqueue("plan_task", task.pk))
    return task


@transaction.atomic
def hubchat_message_send(*, user: User, content: str, max_budget=None, api_key=None) -> tuple[Message, Task]:
    """Save the user's message and start a task for it; the answer comes later, as another message."""
    content = _query(content, field="content")
    budget = settings.HUBCHAT_DEFAULT_MAX_BUDGET if max_budget is None else max_budget
    task = task_create(user=user, user_query=content, max_budget=budget, source="hubchat", api_key=api_key)
    message = Message.objects.create(user=user, role=Message.Role.USER, content=content, task=task)
    return message, task


# --- Planning and quoting ---------------------------------------------------------------------------


def _plan(task: Task) -> Plan:
    from orchestration.hubchat.planner import SkillVocabulary, builtin_plan
    from orchestration.hubchat.providers import plan_with_providers, providers_for

    vocabulary = SkillVocabulary.from_catalog()

    def builtin() -> Plan:
        return builtin_plan(task.user_query, vocabulary=vocabulary, required_skills=task.required_skills or None)

    providers = providers_for(task.user)
    if task.required_skills or not providers:
        return builtin()
    return plan_with_providers(task.user_query, skills=vocabulary.descriptions(), providers=providers,
                               fallback=builtin)


def task_plan(*, task_pk) -> Task | None:
    """Plan a created task into steps, choose agents, quote it; run it at once when the quote is
    within the user's auto-approve threshold. A second delivery finds it planned and does nothing."""
    task = Task.objects.select_related("user").get(pk=task_pk)
    if task.status != TaskStatus.CREATED or task.steps.exists():
        return None
    try:
        plan = _plan(task)
    except Exception as error:  # the planners failed outright: say so on the task, never leave it hanging
        logger.exception("planning task %s failed", task.pk)
        return _fail(task, f"Planning failed ({type(error).__name__}).")
    if not plan.subtasks:
        unknown = "; ".join(plan.unknown) or task.user_query[:200]
        return _fail(task, f"No agent in the catalog can do this: {unknown}.", planner=plan)
    with transaction.atomic():
        task = Task.objects.select_for_update().get(pk=task.pk)
        if task.status != TaskStatus.CREATED or task.steps.exists():
            return None
        TaskStep.objects.bulk_create(
            TaskStep(task=task, position=position, subtask_type=subtask.skill, instruction=subtask.instruction,
                     input=subtask.input, depends_on=list(subtask.depends_on))
            for position, subtask in enumerate(plan.subtasks)
        )
        Task.objects.filter(pk=task.pk).update(
            planner=plan.planner[:100],
            planner_notes=[*plan.notes, *(f"Not understood: {part}" for part in plan.unknown)],
            required_skills=task.required_skills or list(dict.fromkeys(s.skill for s in plan.subtasks)),
        )
    return _quote(task)


def _fail(task: Task, error: str, *, planner: Plan | None = None) -> Task:
    fields = {"status": TaskStatus.FAILED, "error": error, "completed_at": timezone.now()}
    if planner is not None:
        fields.update(planner=planner.planner[:100], planner_notes=list(planner.notes))
    if Task.objects.filter(pk=task.pk).exclude(status__in=TASK_TERMINAL_STATUSES).update(**fields):
        transaction.on_commit(lambda: _enqueue("answer_task", task.pk))
    task.refresh_from_db()
    return task


def _quote(task: Task) -> Task:
    """Choose an agent for every step within the budget, record the quote, and run or wait."""
    steps = list(task.steps.order_by("position"))
    try:
        chosen = selection.choose(skills_and_inputs=[(step.subtask_type, step.input) for step in steps],
                                  user=task.user, budget=task.max_budget)
    except (selection.OverBudget, selection.NoCandidate) as error:
        return _fail(task, str(error))
    with transaction.atomic():
        for step, (choice, candidate) in zip(steps, chosen, strict=True):
            TaskStep.objects.filter(pk=step.pk).update(
                agent=candidate.agent, price=candidate.price, quote_id=candidate.quote_id,
                selection=choice.selection(candidate),
            )
        total = sum((candidate.price for _, candidate in chosen), ZERO)
        auto = total <= ledger.account_for(user=task.user).auto_approve_threshold
        status = TaskStatus.IN_PROGRESS if auto else TaskStatus.AWAITING_CONFIRMATION
        now = timezone.now() if auto else None
        if not Task.objects.filter(pk=task.pk, status=TaskStatus.CREATED).update(
            quote_total=total, status=status, auto_approved=auto, confirmed_at=now, started_at=now,
        ):
            return Task.objects.get(pk=task.pk)  # cancelled meanwhile
        if auto:
            transaction.on_commit(lambda: _enqueue("advance_task", task.pk))
    task.refresh_from_db()
    return task


def tasks_with_steps(queryset):
    """`queryset` with each task's steps (in position order) and their agents read in one go."""
    return queryset.prefetch_related(
        Prefetch("steps", queryset=TaskStep.objects.select_related("agent").order_by("position"))
    )


def task_quote(task: Task) -> dict | None:
    """The quote as the API shows it: the steps, their agents and prices, the total."""
    if task.quote_total is None:
        return None
    steps = task.steps.all()  # in position order; lists prefetch them with their agents
    return {
        "steps": [{"position": step.position, "skill": step.subtask_type,
                   "agent": step.agent.slug if step.agent else None,
                   "agent_name": step.agent.name if step.agent else None, "price": step.price} for step in steps],
        "total": task.quote_total,
        "auto_approved": task.auto_approved,
    }


# --- Confirming, changing, cancelling ----------------------------------------------------------------


def task_confirm(*, task: Task) -> Task:
    """Run a task that waits for the user's approval of its quote."""
    wallet = ledger.account_for(user=task.user)
    quoted = task.status == TaskStatus.AWAITING_CONFIRMATION and task.quote_total is not None
    if quoted and wallet.available < task.quote_total:
        raise ledger.PaymentRequired(
            f"This task is quoted at {task.quote_total} BB; {wallet.available} BB is available.",
            fields={"available": [f"{wallet.available} BB"], "required": [f"{task.quote_total} BB"]},
            code="insufficient_funds",
        )
    now = timezone.now()
    with transaction.atomic():
        if not Task.objects.filter(pk=task.pk, status=TaskStatus.AWAITING_CONFIRMATION).update(
            status=TaskStatus.IN_PROGRESS, confirmed_at=now, started_at=now
        ):
            task.refresh_from_db()
            raise Conflict(f"The task is {task.status}; only a task awaiting confirmation can be confirmed.",
                           code="invalid_transition")
        transaction.on_commit(lambda: _enqueue("advance_task", task.pk))
    task.refresh_from_db()
    return task


def task_budget_change(*, task: Task, max_budget) -> Task:
    """Change the budget of a task that has not started; a quoted task keeps its quote, which must fit."""
    budget = _budget(max_budget)
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        if locked.status not in (TaskStatus.CREATED, TaskStatus.AWAITING_CONFIRMATION):
            raise Conflict(f"The task is {locked.status}; the budget can change only before it runs.",
                           code="invalid_transition")
        if locked.quote_total is not None and locked.quote_total > budget:
            raise InvalidInput(f"The quote is {locked.quote_total} BB, above the new budget.",
                               fields={"max_budget": [f"At least {locked.quote_total} BB for this quote."]})
        Task.objects.filter(pk=task.pk).update(max_budget=budget)
    task.refresh_from_db()
    return task


def task_cancel(*, task: Task) -> Task:
    """Stop a task: pending steps never run, running ones are cancelled (their holds released);
    finished steps stay paid."""
    from orchestration.services import execution_cancel

    with transaction.atomic():
        if not Task.objects.filter(pk=task.pk).exclude(status__in=TASK_TERMINAL_STATUSES).update(
            status=TaskStatus.CANCELLED, completed_at=timezone.now(), error="Cancelled by the user."
        ):
            task.refresh_from_db()
            raise Conflict(f"The task is {task.status}; it can no longer be cancelled.", code="invalid_transition")
        TaskStep.objects.filter(task=task, status=StepStatus.PENDING).update(
            status=StepStatus.CANCELLED, completed_at=timezone.now()
        )
        transaction.on_commit(lambda: _enqueue("answer_task", task.pk))
    for execution in Execution.objects.filter(task=task, status__in=(ExecutionStatus.PENDING, ExecutionStatus.RUNNING)):
        try:
            execution_cancel(execution=execution)
        except Conflict:
            pass  # it ended on its own meanwhile; advancing settles it
    task_advance(task_pk=task.pk)
    task.refresh_from_db()
    return task


# --- Running -----------------------------------------------------------------------------------------


def text_of(output) -> str:
    """An agent's output as text: the summary, the translation, search hits, or the JSON."""
    if output is None:
        return ""
    if isinstance(output, str):
        return output
    if isinstance(output, dict):
        for key in ("summary", "translation", "text", "result", "answer", "content"):
            if isinstance(output.get(key), str):
                return output[key]
        if isinstance(output.get("results"), list):
            return "\n".join(
                f"{hit.get('rank', i + 1)}. {hit.get('title', '')}: {hit.get('snippet', '')}".strip()
                for i, hit in enumerate(output["results"]) if isinstance(hit, dict)
            )
    return orjson.dumps(output).decode()


def handoff(step: TaskStep, outputs: dict[int, object]) -> dict:
    """A step's input with its dependencies' output handed on (as `text`, or `query` for a search)."""
    data = dict(step.input)
    if step.depends_on:
        handed = "\n\n".join(text_of(outputs.get(position)) for position in step.depends_on)
        searching = "search" in step.subtask_type or step.subtask_type in ("research", "information_retrieval")
        key = "query" if "query" in data or searching else "text"
        data.setdefault(key, handed)
        if not data[key]:
            data[key] = handed
    return data


def task_advance(*, task_pk) -> Task:
    """Settle the steps whose run ended, start the steps that can start, finish the task when all are done."""
    from orchestration.services import execution_start

    with transaction.atomic():
        task = Task.objects.select_for_update(of=("self",)).select_related("user", "api_key").get(pk=task_pk)
        steps = list(task.steps.select_related("agent").order_by("position"))
        for step in steps:
            if step.status == StepStatus.RUNNING:
                _step_settle(task, step)
        by_position = {step.position: step for step in steps}
        if task.status == TaskStatus.IN_PROGRESS:
            outputs = {step.position: step.output for step in steps if step.status == StepStatus.COMPLETED}
            for step in steps:
                if step.status != StepStatus.PENDING:
                    continue
                deps = [by_position[position] for position in step.depends_on]
                if any(dep.status in (StepStatus.FAILED, StepStatus.CANCELLED, StepStatus.SKIPPED) for dep in deps):
                    _step_update(step, status=StepStatus.SKIPPED, completed_at=timezone.now(),
                                 error="An earlier step it needed did not complete.")
                elif all(dep.status == StepStatus.COMPLETED for dep in deps):
                    _step_start(task, step, handoff(step, outputs), execution_start)
        if all(step.status in STEP_DONE for step in steps) and not task.is_terminal:
            _task_finish(task, steps)
    return task


def _step_update(step: TaskStep, **fields) -> None:
    TaskStep.objects.filter(pk=step.pk).update(**fields)
    for name, value in fields.items():
        setattr(step, name, value)


def _step_start(task: Task, step: TaskStep, data: dict, execution_start) -> None:
    config = {"quoteId": step.quote_id} if step.quote_id else None
    try:
        with transaction.atomic():
            execution_start(user=task.user, agent=step.agent, input=data, source="hubchat", task_step=step,
                            api_key=task.api_key, price=step.price, config=config,
                            idempotency_key=f"task-step:{step.pk}:{step.attempts + 1}")
            _step_update(step, status=StepStatus.RUNNING, started_at=step.started_at or timezone.now(),
                         attempts=step.attempts + 1, input=data)
    except (ledger.PaymentRequired, Conflict, InvalidInput) as error:
        _step_update(step, status=StepStatus.FAILED, completed_at=timezone.now(), error=str(error))


def _step_settle(task: Task, step: TaskStep) -> None:
    """Record a running step's finished execution; a failure moves to the next-best agent once."""
    execution = Execution.objects.filter(task_step=step).order_by("-created_at").first()
    if execution is None or not execution.is_terminal:
        return
    now = timezone.now()
    if execution.status == ExecutionStatus.COMPLETED:
        external = StripePayment.objects.filter(
            execution=execution, type=StripePayment.Type.CARD_SPEND
        ).values_list("amount", flat=True).first() or ZERO
        charged = execution.cost or ZERO
        _step_update(step, status=StepStatus.COMPLETED, output=execution.output, result=text_of(execution.output),
                     cost=charged - external, external_cost=external, requires_external_tool=bool(external),
                     execution_time=execution.duration_ms, completed_at=now, error="")
        Task.objects.filter(pk=task.pk).update(total_cost=F("total_cost") + charged)
        return
    reason = execution.error or execution.status
    if task.status == TaskStatus.IN_PROGRESS and step.attempts < settings.HUBCHAT_STEP_ATTEMPTS:
        replacement = _next_candidate(task, step)
        if replacement is not None:
            agent, price, note = replacement
            selection_ = {**step.selection, "fallbacks": [*step.selection.get("fallbacks", []), note]}
            _step_update(step, status=StepStatus.PENDING, agent=agent, price=price, quote_id="",
                         selection=selection_, error=f"{step.agent.name} failed ({reason}); trying {agent.name}.")
            return
    status = StepStatus.CANCELLED if execution.status == ExecutionStatus.CANCELLED else StepStatus.FAILED
    _step_update(step, status=status, completed_at=now, error=reason, execution_time=execution.duration_ms)


def _next_candidate(task: Task, step: TaskStep):
    """The best eligible candidate the step has not tried, if its price fits what is left of the budget."""
    from marketplace.models import Agent

    tried = set(Execution.objects.filter(task_step=step).values_list("agent__slug", flat=True))
    others = task.steps.exclude(pk=step.pk)
    committed = sum((s.cost + s.external_cost if s.status == StepStatus.COMPLETED else s.price
                     for s in others if s.status not in (StepStatus.FAILED, StepStatus.CANCELLED, StepStatus.SKIPPED)),
                    ZERO)
    room = task.max_budget - committed
    for candidate in step.selection.get("candidates", []):
        if candidate["agent"] in tried or not candidate.get("eligible"):
            continue
        agent = Agent.objects.filter(slug=candidate["agent"], availability=True).first()
        price = Decimal(candidate["price"])
        if agent is None or price > room or selection.NEGOTIATION_SKILL in agent.skills:
            continue
        note = {"agent": agent.slug, "price": str(price),
                "reason": f"{step.agent.name} failed; {agent.name} was next in line at {price} BB."}
        return agent, price, note
    return None


def _task_finish(task: Task, steps: list[TaskStep]) -> None:
    completed = all(step.status == StepStatus.COMPLETED for step in steps)
    failed = next((step for step in steps if step.status == StepStatus.FAILED), None)
    fields = {"completed_at": timezone.now()}
    if completed:
        fields["status"] = TaskStatus.COMPLETED
    else:
        error = f"Step {failed.position + 1} ({failed.subtask_type}) failed: {failed.error}" if failed else ""
        fields.update(status=TaskStatus.FAILED, error=error or "Not all steps completed.")
    if Task.objects.filter(pk=task.pk, status=TaskStatus.IN_PROGRESS).update(**fields):
        transaction.on_commit(lambda: _enqueue("answer_task", task.pk))


# --- The answer --------------------------------------------------------------------------------------


def cost_breakdown(task: Task) -> dict:
    steps = task.steps.select_related("agent").filter(status=StepStatus.COMPLETED).order_by("position")
    return {
        "subtasks": [{"agent": step.agent.name, "agent_id": step.agent.slug, "skill": step.subtask_type,
                      "cost": step.cost + step.external_cost} for step in steps],
        "total": task.total_cost,
    }


def _template_answer(task: Task, steps: list[TaskStep]) -> str:
    if task.status == TaskStatus.CANCELLED:
        paid = f" The steps that finished cost {money(task.total_cost)} BB." if task.total_cost else ""
        return "The task was cancelled." + (paid or " Nothing was charged.")
    if task.status == TaskStatus.FAILED and not any(step.status == StepStatus.COMPLETED for step in steps):
        return f"I could not do this: {task.error} Nothing was charged."
    lines = []
    final = [step for step in steps if step.status == StepStatus.COMPLETED
             and not any(step.position in other.depends_on for other in steps)]
    if task.status == TaskStatus.FAILED:
        lines.append(f"Part of this failed: {task.error}")
    for step in final:
        lines.append(f"{step.instruction or step.subtask_type.title()} ({step.agent.name}):\n{step.result}")
    done = [step for step in steps if step.status == StepStatus.COMPLETED]
    lines.append(f"{len(done)} step{'s' if len(done) != 1 else ''} for {money(task.total_cost)} BB.")
    return "\n\n".join(line.strip() for line in lines)


def task_answer(*, task_pk) -> Message | None:
    """Compose and save the assistant's answer for a finished HubChat task, once."""
    from orchestration.hubchat.providers import compose_answer, providers_for

    task = Task.objects.select_related("user").get(pk=task_pk)
    if task.source != "hubchat" or not task.is_terminal:
        return None
    existing = Message.objects.filter(task=task, role=Message.Role.ASSISTANT).first()
    if existing:
        return existing
    steps = list(task.steps.select_related("agent").order_by("position"))
    content = None
    if task.status == TaskStatus.COMPLETED:
        composed = compose_answer(task.user_query, [
            {"skill": step.subtask_type, "agent": step.agent.name, "result": step.result, "cost": str(step.cost)}
            for step in steps
        ], providers=providers_for(task.user))
        content = composed[0] if composed else None
    content = content or _template_answer(task, steps)
    breakdown = cost_breakdown(task) if task.total_cost or task.status == TaskStatus.COMPLETED else None
    message, _ = Message.objects.get_or_create(
        task=task, role=Message.Role.ASSISTANT,
        defaults={"user": task.user, "content": content, "cost_breakdown": _json(breakdown)},
    )
    return message


def _json(value):
    """JSON for a JSONField, amounts as numbers (seed 004's costBreakdown); 4 decimal places stay exact."""
    return orjson.loads(orjson.dumps(value, default=float)) if value is not None else None
