"""Pages for hiring and running agents: hire, my hirings, run, one execution, the history.

Thin, like the catalog's pages: reads are scoped to the user (someone else's hiring or run is a
404), writes go through `marketplace.hirings` and `orchestration.services`.
"""

import json
import uuid
from datetime import datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from agenthub.errors import Conflict, DomainError
from agenthub.formatting import money
from marketplace import hirings, selectors
from marketplace.choices import LISTED_STATUSES, PricingModel
from marketplace.models import Agent, Hiring
from marketplace.views import present
from orchestration import services
from orchestration.api.filters import ExecutionFilterSet
from orchestration.forms import ExecutionFilterForm, HireForm, InputFieldsForm, RunForm, example_input, input_schema
from orchestration.models import Execution, ExecutionStatus

PAGE_SIZE = 20
MAX_JSON_SHOWN = 100_000  # characters of input/output drawn on the page; the API has the rest
LIVE_STATUSES = (ExecutionStatus.PENDING, ExecutionStatus.RUNNING)


# --- Presentation --------------------------------------------------------------------------


def duration_text(ms: int | None) -> str:
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    minutes, seconds = divmod(ms // 1000, 60)
    return f"{minutes} min {seconds} s"


def figure(value: float | None, places: int, unit: str) -> str:
    """0.5, 2, "MB" → "0.5 MB"; None → "—"."""
    if value is None:
        return "—"
    text = f"{value:.{places}f}".rstrip("0").rstrip(".") if places else f"{value:.0f}"
    return f"{text or '0'} {unit}"


def pretty_json(value) -> tuple[str, bool]:
    """(indented JSON, whether it was cut short)."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return (text[:MAX_JSON_SHOWN], True) if len(text) > MAX_JSON_SHOWN else (text, False)


def timeline(execution: Execution) -> list[dict]:
    """Queued → running → how it ended, with when; steps not reached yet are shown as to come."""
    steps = [{"state": "pending", "label": "Queued", "at": execution.created_at, "reached": True}]
    if execution.started_at:
        steps.append({"state": "running", "label": "Running", "at": execution.started_at, "reached": True})
    elif not execution.is_terminal:
        steps.append({"state": "running", "label": "Running", "at": None, "reached": False})
    if execution.is_terminal:
        steps.append({"state": execution.status, "label": execution.get_status_display(),
                      "at": execution.completed_at, "reached": True})
    else:
        steps.append({"state": "finished", "label": "Finished", "at": None, "reached": False})
    current = max(i for i, step in enumerate(steps) if step["reached"])
    steps[current]["current"] = not execution.is_terminal
    for step in steps[1:]:
        if step["at"]:  # runs take milliseconds: how long after it was asked for
            step["after"] = "+" + duration_text(max(int((step["at"] - execution.created_at).total_seconds() * 1000), 0))
    return steps


def present_execution(execution: Execution, *, full: bool = True) -> Execution:
    execution.duration_text = duration_text(execution.duration_ms)
    execution.cost_text = f"{money(execution.cost)} BB" if execution.cost is not None else "—"
    execution.can_cancel = execution.status in LIVE_STATUSES
    execution.cpu_text = figure(execution.cpu_usage, 3, "s")
    execution.memory_text = figure(execution.memory_usage, 1, "MB")
    execution.disk_text = figure(execution.disk_usage, 2, "MB")
    if full:
        execution.input_json, execution.input_cut = pretty_json(execution.input)
        if execution.output is not None:
            execution.output_json, execution.output_cut = pretty_json(execution.output)
        execution.steps = timeline(execution)
    return execution


def _own_execution(request, pk) -> Execution:
    executions = Execution.objects.filter(user=request.user).select_related("agent", "version", "hiring")
    return get_object_or_404(executions.prefetch_related("attempts"), pk=pk)


def _visible_agent(request, slug: str) -> Agent:
    return present(get_object_or_404(selectors.agent_visible(user=request.user), slug=slug))


def _active_hirings(user, agent: Agent) -> list[Hiring]:
    return list(Hiring.objects.filter(user=user, agent=agent, status=Hiring.Status.ACTIVE))


# --- Hiring -----------------------------------------------------------------------------------


@login_required
def hire(request, slug: str):
    agent = _visible_agent(request, slug)
    live = agent.status in LISTED_STATUSES
    current = next(iter(_active_hirings(request.user, agent)), None)
    form = HireForm(request.POST if request.method == "POST" else None, agent=agent)
    if request.method == "POST" and live and current is None and form.is_valid():
        try:
            hiring = hirings.hiring_create(user=request.user, agent=agent, config=form.config(),
                                           billing_cycle=form.cleaned_data.get("billing_cycle") or "")
        except DomainError as exc:
            if exc.fields:
                form.add_schema_errors(exc.fields)
            else:
                form.add_error(None, exc.message)
        else:
            messages.success(request, f"You hired “{agent.name}”. Run it whenever you like.")
            return redirect(f"{reverse('orchestration:my_hirings')}#hiring-{hiring.pk}")
    failed = request.method == "POST" and (form.errors or form.group_errors)
    return render(request, "orchestration/hire.html", {
        "agent": agent, "form": form, "live": live, "current": current,
    }, status=400 if failed else 200)


@login_required
def my_hirings(request):
    rows = Hiring.objects.filter(user=request.user).select_related("agent").order_by("-hired_at")
    counts = dict(rows.order_by().values_list("status").annotate(n=Count("pk")))
    status = request.GET.get("status", "")
    if status in Hiring.Status.values:
        rows = rows.filter(status=status)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    for hiring in page.object_list:
        hiring.agent_live = hiring.agent.status in LISTED_STATUSES
        hiring.config_json = pretty_json(hiring.config)[0] if hiring.config else ""
    return render(request, "orchestration/my_hirings.html", {
        "page": page, "hirings": page.object_list, "status": status,
        "counts": [(value, label, counts.get(value, 0)) for value, label in Hiring.Status.choices],
        "total": sum(counts.values()),
        "page_numbers": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
    })


@login_required
@require_POST
def hiring_cancel(request, pk):
    hiring = get_object_or_404(Hiring.objects.filter(user=request.user).select_related("agent"), pk=pk)
    try:
        hirings.hiring_cancel(hiring=hiring)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Your hiring of “{hiring.agent.name}” is cancelled.")
    return redirect("orchestration:my_hirings")


# --- Running ------------------------------------------------------------------------------------


def _new_key() -> str:
    return f"web-{uuid.uuid4().hex}"


@login_required
def run(request, slug: str):
    agent = _visible_agent(request, slug)
    live = agent.status in LISTED_STATUSES
    schema = input_schema(agent.inputs)
    example = example_input(schema)
    active = _active_hirings(request.user, agent)
    data = request.POST if request.method == "POST" else None
    form = RunForm(data, example=example, friendly=schema is not None, hirings=active)
    fields_form = InputFieldsForm(data, schema=schema, example=example) if schema else None
    hire_needed = agent.pricing_model == PricingModel.SUBSCRIPTION and not active
    if data is not None and live:
        valid = form.is_valid()
        if form.uses_fields:
            valid = fields_form.is_valid() and valid
        if valid:
            value = fields_form.value() if form.uses_fields else form.cleaned_data["input"]
            try:
                execution = _start(request, agent=agent, input=value, hiring=form.chosen_hiring())
            except DomainError as exc:
                hire_needed = hire_needed or exc.code == "hiring_required"
                _show_run_error(form, exc)
            else:
                return redirect("orchestration:execution_detail", pk=execution.pk)
    failed = data is not None and (form.errors or (fields_form is not None and fields_form.errors))
    return render(request, "orchestration/run.html", {
        "agent": agent, "form": form, "fields_form": fields_form, "live": live, "hire_needed": hire_needed,
        "hirings": active, "idempotency_key": (data or {}).get("idempotency_key") or _new_key(),
        "recent": Execution.objects.filter(user=request.user, agent=agent).order_by("-created_at")[:5],
    }, status=400 if failed else 200)


def _start(request, *, agent: Agent, input, hiring: Hiring | None) -> Execution:
    """Start the run. The page's key makes a double submit one run; a changed input is a new one."""
    key = (request.POST.get("idempotency_key") or "").strip()[:255] or None
    try:
        execution, _ = services.execution_start(user=request.user, agent=agent, input=input, hiring=hiring,
                                                 idempotency_key=key, source="web")
    except Conflict as exc:
        if exc.code != "idempotency_key_reused":
            raise
        execution, _ = services.execution_start(user=request.user, agent=agent, input=input, hiring=hiring,
                                                 source="web")
    return execution


def _show_run_error(form: RunForm, error: DomainError) -> None:
    """The service's refusal on top of the form; a problem with the hiring also next to its select."""
    form.add_error(None, error.message)
    if "hiring_id" in error.fields and "hiring" in form.fields:
        form.add_error("hiring", "Choose another hiring.")


# --- Executions ------------------------------------------------------------------------------


@login_required
def execution_detail(request, pk):
    execution = present_execution(_own_execution(request, pk))
    return render(request, "orchestration/execution_detail.html", {"execution": execution})


@login_required
def execution_panel(request, pk):
    """The live part of the execution page, for the script that follows a run."""
    execution = present_execution(_own_execution(request, pk))
    return render(request, "orchestration/_execution_panel.html", {"execution": execution})


@login_required
@require_POST
def execution_cancel(request, pk):
    execution = _own_execution(request, pk)
    try:
        services.execution_cancel(execution=execution)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The run was cancelled.")
    return redirect("orchestration:execution_detail", pk=execution.pk)


@login_required
def my_executions(request):
    own = Execution.objects.filter(user=request.user)
    agents = list(
        Agent.objects.filter(executions__user=request.user).distinct().order_by("name").values_list("slug", "name")
    )
    form = ExecutionFilterForm(request.GET or None, agents=agents)
    params = QueryDict(mutable=True)
    if form.is_valid():
        params.update(_filter_params(form.cleaned_data))
    filterset = ExecutionFilterSet(data=params, queryset=own.select_related("agent"), request=request)
    # A filter that makes no sense is shown with its error, over no rows rather than every row.
    executions = filterset.qs.order_by("-created_at") if not form.errors else own.none()
    counts = dict(executions.order_by().values_list("status").annotate(n=Count("pk")))
    page = Paginator(executions, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [present_execution(execution, full=False) for execution in page.object_list]
    return render(request, "orchestration/my_executions.html", {
        "form": form, "page": page, "executions": rows, "has_any": own.exists(),
        "filtered": bool(params) or bool(form.errors), "total": sum(counts.values()),
        "counts": [(value, label, counts[value]) for value, label in ExecutionStatus.choices if counts.get(value)],
        "page_numbers": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
    })


def _filter_params(data: dict) -> dict:
    """The page's filters in the API's terms (one set of filter rules: ExecutionFilterSet)."""
    params = {}
    if data.get("agent"):
        params["agent"] = data["agent"]
    if data.get("status"):
        params["status"] = data["status"]
    zone = timezone.get_current_timezone()
    if data.get("date_from"):
        params["created_after"] = datetime.combine(data["date_from"], time.min, tzinfo=zone).isoformat()
    if data.get("date_to"):
        params["created_before"] = datetime.combine(data["date_to"] + timedelta(days=1), time.min,
                                                    tzinfo=zone).isoformat()
    return params
