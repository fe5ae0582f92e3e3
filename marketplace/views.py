"""The catalog's server-rendered pages. Thin: reads come from selectors, writes go through services."""


from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from agenthub.errors import DomainError, InvalidInput
from agenthub.formatting import money
from agenthub.web import visitor_session_id
from marketplace import selectors, services
from marketplace.choices import AgentStatus, PricingModel
from marketplace.filters import AgentFilterSet
from marketplace.forms import AgentForm, MarketplaceFilterForm, agent_form_data, domain_label
from marketplace.models import Agent, AgentReview

PAGE_SIZE = 12
FILTER_KEYS = ("domain", "skills", "pricing_model", "min_rating", "availability", "ordering")
TRENDING_DAYS = (1, 7, 30, 90)
BUSY_LOAD = 0.8
HEALTH_POINTS = 30  # health checks drawn on an agent's page


# --- Presentation helpers ---------------------------------------------------------


def price_text(agent: Agent) -> str:
    if agent.pricing_model == PricingModel.PER_USE:
        return f"{money(agent.price_per_use)} BB / use"
    if agent.pricing_model == PricingModel.SUBSCRIPTION:
        return f"{money(agent.monthly_price)} BB / month"
    return "Free"


def availability(agent: Agent) -> tuple[str, str]:
    """(css modifier, label) of the availability badge."""
    if not agent.availability:
        return "offline", "Unavailable"
    if agent.load >= BUSY_LOAD:
        return "busy", "Busy"
    return "available", "Available"


def present(agent: Agent, *, snippet: str | None = None) -> Agent:
    agent.price_text = price_text(agent)
    agent.domain_label = domain_label(agent.business_domain)
    agent.availability_state, agent.availability_label = availability(agent)
    agent.load_percent = round((agent.load or 0) * 100)
    # The selector builds the snippet from escaped text, adding only <mark> tags.
    agent.snippet = mark_safe(snippet) if snippet else ""
    return agent


def _managed_agent(request, slug: str) -> Agent:
    """An agent the user may edit; anyone else's is a 404, as if it did not exist."""
    agent = get_object_or_404(selectors.agent_visible(user=request.user), slug=slug)
    if not selectors.agent_manageable_by(agent=agent, user=request.user):
        raise Http404("No such agent.")
    return agent


# --- Marketplace ---------------------------------------------------------------


def home(request):
    query = (request.GET.get("q") or "").strip()[:200]
    domains = selectors.analytics_by_domain()
    form = MarketplaceFilterForm(request.GET, domains=domains, searching=bool(query))
    if query:
        agents = selectors.agent_search(user=request.user, query=query)
    else:
        agents = selectors.agent_visible(user=request.user)
    agents = agents.filter(selectors.LISTED)  # the marketplace lists what the public catalog shows
    params = {key: request.GET[key].strip() for key in FILTER_KEYS if request.GET.get(key, "").strip()}
    if not query:
        params.setdefault("ordering", "trending")
    # Same filter rules as the API: AgentFilterSet is the one place they live.
    filterset = AgentFilterSet(data=params, queryset=agents, request=request)
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    snippets = selectors.search_snippets(agents=list(page.object_list), query=query) if query else {}
    cards = [present(agent, snippet=snippets.get(agent.pk)) for agent in page.object_list]
    active_filters = any(key in params for key in FILTER_KEYS if key != "ordering")
    return render(request, "marketplace/home.html", {
        "form": form, "query": query, "page": page, "agents": cards, "filter_errors": filterset.errors,
        "active_filters": active_filters, "domains": domains,
        "page_numbers": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
    })


def agent_detail(request, slug: str):
    agents = selectors.agent_visible(user=request.user).prefetch_related(
        Prefetch("reviews_made", queryset=AgentReview.objects.select_related("reviewer", "version"))
    )
    agent = get_object_or_404(agents, slug=slug)
    user = request.user if request.user.is_authenticated else None
    _, agent.view_count = services.agent_view_record(agent=agent, session_id=visitor_session_id(request), user=user)
    can_manage = selectors.agent_manageable_by(agent=agent, user=request.user)
    checks = list(agent.health_checks.order_by("-checked_at")[:HEALTH_POINTS])[::-1]  # the monitor's probes
    return render(request, "marketplace/agent_detail.html", {
        "agent": present(agent),
        "can_manage": can_manage,
        "reviews": list(agent.reviews_made.all()) if can_manage else [],
        "tools": [tool for tool in agent.tools if isinstance(tool, dict)],
        "kpis": [kpi for kpi in agent.kpis if isinstance(kpi, dict)],
        "success_percent": None if agent.success_rate is None else round(agent.success_rate * 100, 1),
        "health_checks": checks,
        "health_up": sum(check.ok for check in checks),
        "health_chart": {
            "labels": [timezone.localtime(check.checked_at).strftime("%H:%M") for check in checks],
            "response_ms": [check.response_ms for check in checks],
            "ok": [check.ok for check in checks],
            "detail": [check.detail for check in checks],
        },
    })


def trending(request):
    try:
        days = int(request.GET.get("days", 7))
    except ValueError:
        days = 7
    if days not in TRENDING_DAYS:
        days = 7
    rows = selectors.analytics_trending(days=days, limit=10)
    for row in rows:
        row["domain_label"] = domain_label(row["business_domain"])
    chart = {"labels": [row["name"] for row in rows], "scores": [row["score"] for row in rows],
             "views": [row["views"] for row in rows]}
    return render(request, "marketplace/trending.html", {
        "rows": rows, "chart": chart, "days": days, "day_choices": TRENDING_DAYS,
    })


def domains(request):
    rows = selectors.analytics_by_domain()
    for row in rows:
        row["label"] = domain_label(row["domain"])
    chart = {"labels": [row["label"] for row in rows], "counts": [row["count"] for row in rows],
             "views": [row["views"] for row in rows], "ratings": [row["average_rating"] for row in rows]}
    return render(request, "marketplace/domains.html", {"rows": rows, "chart": chart})


# --- Creators ------------------------------------------------------------------


@login_required
def my_agents(request):
    agents = (
        selectors.agent_visible(user=request.user)
        .filter(created_by=request.user)
        .prefetch_related(Prefetch("reviews_made", queryset=AgentReview.objects.select_related("reviewer")))
        .order_by("-updated_at")
    )
    rows = []
    for agent in agents:
        present(agent)
        agent.last_review = next(iter(agent.reviews_made.all()), None)
        rows.append(agent)
    counts = {status: sum(1 for agent in rows if agent.status == status) for status in AgentStatus.values}
    return render(request, "marketplace/my_agents.html", {"agents": rows, "counts": counts})


def _render_form(request, form: AgentForm, agent: Agent | None, *, status: int = 200):
    reviews = []
    if agent is not None:
        reviews = list(agent.reviews_made.select_related("reviewer", "version"))
    return render(request, "marketplace/agent_form.html", {
        "form": form, "agent": agent, "reviews": reviews,
        "domain_options": [row["domain"] for row in selectors.analytics_by_domain()],
        "locked": agent is not None and agent.status == AgentStatus.SUBMITTED,
    }, status=status)


def _show_error(form: AgentForm, error: DomainError) -> None:
    """A service's refusal, on the form: its message on top, and each field's problem next to the field."""
    form.add_error(None, error.message)
    form.add_service_errors(error.fields)


def _submit(request, agent: Agent, form: AgentForm | None = None):
    """Send to review; on failure show the edit page with each problem next to its field."""
    try:
        services.agent_submit(agent=agent, user=request.user)
    except InvalidInput as exc:
        agent.refresh_from_db()
        if form is None or form.agent is None:  # a create form becomes the new agent's edit form
            form = AgentForm(agent_form_data(agent), agent=agent)
            form.is_valid()
        form.add_service_errors(exc.fields)
        messages.error(request, "The agent cannot be submitted yet: fix the fields marked below, then submit again.")
        return _render_form(request, form, agent, status=400)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("marketplace:agent_edit", slug=agent.slug)
    messages.success(request, f"“{agent.name}” was submitted for review. We will let you know the decision.")
    return redirect("marketplace:my_agents")


@login_required
def agent_create(request):
    form = AgentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            agent = services.agent_create(user=request.user, data=form.service_data())
        except DomainError as exc:
            _show_error(form, exc)
        else:
            if "submit" in request.POST:
                return _submit(request, agent)
            messages.success(request, f"Draft “{agent.name}” saved. Submit it for review when it is ready.")
            return redirect("marketplace:agent_edit", slug=agent.slug)
    return _render_form(request, form, None, status=400 if form.errors else 200)


@login_required
def agent_edit(request, slug: str):
    agent = _managed_agent(request, slug)
    form = AgentForm(request.POST or None, agent=agent)
    if request.method == "POST" and form.is_valid():
        try:
            agent = services.agent_update(agent=agent, user=request.user, data=form.service_data())
        except DomainError as exc:
            _show_error(form, exc)
        else:
            if "submit" in request.POST:
                return _submit(request, agent, form)
            messages.success(request, "Changes saved.")
            return redirect("marketplace:agent_edit", slug=agent.slug)
    return _render_form(request, form, agent, status=400 if form.errors else 200)


@login_required
@require_POST
def agent_submit(request, slug: str):
    return _submit(request, _managed_agent(request, slug))


@login_required
@require_POST
def agent_set_live(request, slug: str):
    """Take an approved agent live (active) or off the market (inactive)."""
    agent = _managed_agent(request, slug)
    action = request.POST.get("action")
    change = {"activate": services.agent_activate, "deactivate": services.agent_deactivate}.get(action)
    if change is None:
        messages.error(request, "Unknown action.")
    else:
        try:
            agent = change(agent=agent, user=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"“{agent.name}” is now {agent.get_status_display().lower()}.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "marketplace:my_agents"
    return redirect(target)
