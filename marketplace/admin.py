"""The staff side of the catalog: above all the review queue for agent submissions.

Approving and rejecting go through the same services as the API (`agent_approve`,
`agent_reject`), so the rules (reviewers only, never your own agent, only submitted
agents, a rejection needs a reason) are written once and hold here too.
"""

import json
from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.timesince import timesince

from accounts.admin import https_url_formfield
from agenthub.admin_display import NoWrites, ReadOnlyAdmin, admin_link, badge, pretty_json
from agenthub.errors import DomainError
from marketplace import hirings, services
from marketplace.choices import AgentStatus, PricingModel, ReviewDecision
from marketplace.models import REVIEWED_FIELDS, Agent, AgentPackage, AgentReview, AgentVersion, AgentView, Hiring

REVIEW_PERMISSION = "marketplace.review_agent"


def _price(pricing_model: str, price_per_use, monthly_price) -> str:
    if pricing_model == PricingModel.PER_USE:
        return f"{price_per_use.normalize():f}\u00a0BB\u00a0/\u00a0use"
    if pricing_model == PricingModel.SUBSCRIPTION:
        return f"{monthly_price.normalize():f}\u00a0BB\u00a0/\u00a0month"
    return "Free"


def _when(moment) -> str:
    """A compact date with how long ago it was: the queue is about waiting time."""
    if moment is None:
        return "-"
    local = timezone.localtime(moment)
    return format_html(
        '<span style="white-space:nowrap" title="{}">{}</span><br><small style="color:var(--body-quiet-color)">'
        "{} ago</small>",
        local.isoformat(timespec="minutes"),
        local.strftime("%Y-%m-%d"),
        timesince(moment, depth=1),
    )


# --- The review queue ----------------------------------------------------------


class StatusFilter(admin.SimpleListFilter):
    """Status, where "All" is an explicit value: with no value at all the queue opens on submitted agents."""

    title = "status"
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request, model_admin):
        return AgentStatus.choices

    def queryset(self, request, queryset):
        if self.value() in AgentStatus.values:
            return queryset.filter(status=self.value())
        return queryset

    def choices(self, changelist):
        choices = super().choices(changelist)
        everything = next(choices)
        everything.update(
            selected=self.value() in (None, self.ALL),
            query_string=changelist.get_query_string({self.parameter_name: self.ALL}),
        )
        yield everything
        yield from choices


class LinesField(forms.CharField):
    """A list of strings edited as one item per line, instead of typing JSON."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 100})

    def __init__(self, *, encoder=None, decoder=None, **kwargs):  # given by the model's JSONField; not needed
        kwargs["help_text"] = kwargs.get("help_text") or "One per line."
        super().__init__(**{**kwargs, "required": False})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value) -> list[str]:
        text = super().to_python(value)
        return [line.strip() for line in text.splitlines() if line.strip()]


class PrettyJSONField(forms.JSONField):
    """JSON shown indented, so a schema or a list of objects can be read and edited."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, ensure_ascii=False, indent=2, cls=self.encoder)


LINE_LIST_FIELDS = (
    "goals",
    "in_scope",
    "out_of_scope",
    "inputs",
    "outputs",
    "security_controls",
    "personas",
    "tags",
    "skills",
    "capabilities",
    "requirements",
)


class AgentAdminForm(forms.ModelForm):
    class Meta:
        model = Agent
        formfield_callback = https_url_formfield
        fields = "__all__"  # noqa: DJ007 - the admin's fieldsets choose the fields; this only fits their widgets
        field_classes = {
            **dict.fromkeys(LINE_LIST_FIELDS, LinesField),
            **dict.fromkeys(("tools", "kpis", "config_schema"), PrettyJSONField),
        }
        widgets = {
            "tools": forms.Textarea(attrs={"rows": 8, "cols": 100}),
            "kpis": forms.Textarea(attrs={"rows": 8, "cols": 100}),
            "config_schema": forms.Textarea(attrs={"rows": 10, "cols": 100}),
            "short_description": forms.TextInput(attrs={"size": 100}),
            "description": forms.Textarea(attrs={"rows": 5, "cols": 100}),
            "problem_statement": forms.Textarea(attrs={"rows": 3, "cols": 100}),
            "operational_details": forms.Textarea(attrs={"rows": 3, "cols": 100}),
        }
        help_texts = {
            "tools": 'A JSON list of {"name": ..., "description": ...}.',
            "kpis": 'A JSON list of {"name": ..., "target": ..., "current": ...}.',
            "config_schema": "A JSON Schema (2020-12) that a hiring's configuration must satisfy.",
        }


class RejectForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
        help_text="The creator sees this reason with the decision. Say what to fix before resubmitting.",
        max_length=5000,
    )


class ApproveForm(forms.Form):
    reason = forms.CharField(
        label="Note (optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Recorded with the decision.",
        max_length=5000,
    )


class AgentReviewInline(NoWrites, admin.TabularInline):
    """The decisions recorded on this agent, newest first. Made only by the approve/reject services."""

    model = AgentReview
    fk_name = "agent"
    verbose_name = "review decision"
    verbose_name_plural = "Review decisions"
    fields = ("created_at", "reviewer", "decision_badge", "version_number", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("reviewer", "version")

    @admin.display(description="Decision")
    def decision_badge(self, review: AgentReview) -> str:
        return badge(review.decision, review.get_decision_display())

    @admin.display(description="Version")
    def version_number(self, review: AgentReview) -> str:
        return admin_link(review.version, review.version.number)



class AgentVersionInline(NoWrites, admin.TabularInline):
    """Every version submitted for review; each is frozen once submitted."""

    model = AgentVersion
    fk_name = "agent"
    verbose_name_plural = "Submitted versions"
    fields = ("version_number", "status_badge", "transport", "pricing", "submitted_by", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    classes = ("collapse",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("submitted_by")

    @admin.display(description="Version")
    def version_number(self, version: AgentVersion) -> str:
        return admin_link(version, version.number)

    @admin.display(description="Status")
    def status_badge(self, version: AgentVersion) -> str:
        return badge(version.status, version.get_status_display())

    @admin.display(description="Pricing")
    def pricing(self, version: AgentVersion) -> str:
        return _price(version.pricing_model, version.price_per_use, version.monthly_price)



@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    form = AgentAdminForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = (
        "agent",
        "status_badge",
        "creator",
        "domain",
        "pricing",
        "submitted_at",
        "updated",
        "rating_display",
    )
    list_display_links = ("agent",)
    list_filter = (StatusFilter, "business_domain", "pricing_model", "is_public", "transport", "availability")
    search_fields = ("name", "slug", "short_description", "description", "tags", "skills", "owner")
    list_select_related = ("created_by",)
    list_per_page = 50
    autocomplete_fields = ("created_by",)
    inlines = (AgentReviewInline, AgentVersionInline)
    actions = ("approve_selected", "reject_selected", "activate_selected", "deactivate_selected")
    change_form_template = "admin/marketplace/agent/change_form.html"
    review_template = "admin/marketplace/agent/review.html"
    save_on_top = True
    fieldsets = (
        (
            "Review",
            {
                "fields": ("status_badge", "validation_errors_display", "submitted_version", "current_version_link"),
                "description": "A submitted agent is approved or rejected with the buttons above or the actions "
                "of the list. Reviewed fields cannot be edited while an agent is under review or live.",
            },
        ),
        (
            "Catalog",
            {
                "fields": (
                    "name",
                    "slug",
                    "short_description",
                    "description",
                    "business_domain",
                    "owner",
                    "version",
                    "problem_statement",
                    "goals",
                    "in_scope",
                    "out_of_scope",
                    "operational_details",
                    "inputs",
                    "outputs",
                    "tools",
                    "security_controls",
                    "kpis",
                    "personas",
                    "tags",
                ),
            },
        ),
        (
            "Build and pricing",
            {
                "fields": (
                    "author",
                    "email",
                    "transport",
                    "endpoint_url",
                    "entry_point",
                    "requirements",
                    "config_schema",
                    "code_hash",
                    "pricing_model",
                    "price_per_use",
                    "monthly_price",
                    "is_public",
                ),
            },
        ),
        (
            "Market",
            {
                "fields": (
                    "skills",
                    "capabilities",
                    "dynamic_price",
                    "load",
                    "availability",
                    "rating",
                    "rating_count",
                    "jobs_completed",
                    "avg_response_time",
                ),
            },
        ),
        (
            "Usage and history",
            {
                "fields": (
                    "total_hires",
                    "total_executions",
                    "view_count",
                    "trending_score",
                    "created_by",
                    "updated_by",
                    "created_at",
                    "updated_at",
                ),
                "classes": ("collapse",),
            },
        ),
    )
    readonly_fields = (
        "status_badge",
        "validation_errors_display",
        "submitted_version",
        "current_version_link",
        "view_count",
        "trending_score",
        "updated_by",
        "created_at",
        "updated_at",
    )

    # -- the list --------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Agent]:
        # Annotated before ordering (which ModelAdmin.get_queryset would apply first), so it can order by it.
        last_submitted = AgentVersion.objects.filter(agent=OuterRef("pk")).order_by("-created_at")
        agents = self.model._default_manager.annotate(submitted_at=Subquery(last_submitted.values("created_at")[:1]))
        return agents.order_by(*self.get_ordering(request))

    def get_ordering(self, request: HttpRequest):
        # The queue is first in, first out; everything else shows the latest change first.
        if request.GET.get(StatusFilter.parameter_name) == AgentStatus.SUBMITTED:
            return ("submitted_at", "name")
        return ("-updated_at",)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        if (
            request.method == "GET"
            and StatusFilter.parameter_name not in request.GET
            and IS_POPUP_VAR not in request.GET
        ):
            query = request.GET.copy()
            query[StatusFilter.parameter_name] = AgentStatus.SUBMITTED
            return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")
        extra_context = extra_context or {}
        if request.GET.get(StatusFilter.parameter_name) == AgentStatus.SUBMITTED:
            extra_context.setdefault("title", "Review queue: agents awaiting a decision")
        return super().changelist_view(request, extra_context=extra_context)

    @admin.display(description="Agent (id)", ordering="name")
    def agent(self, agent: Agent) -> str:
        return format_html(
            '{}<br><code style="font-size:11px;color:var(--body-quiet-color)">{}</code>', agent.name, agent.slug
        )

    @admin.display(description="Status", ordering="status")
    def status_badge(self, agent: Agent) -> str:
        return badge(agent.status, agent.get_status_display())

    @admin.display(description="Domain", ordering="business_domain")
    def domain(self, agent: Agent) -> str:
        return agent.business_domain or "-"

    @admin.display(description="Creator", ordering="created_by__username")
    def creator(self, agent: Agent) -> str:
        return agent.created_by.username

    @admin.display(description="Pricing", ordering="pricing_model")
    def pricing(self, agent: Agent) -> str:
        return _price(agent.pricing_model, agent.price_per_use, agent.monthly_price)

    @admin.display(description="Submitted", ordering="submitted_at")
    def submitted_at(self, agent: Agent) -> str:
        return _when(getattr(agent, "submitted_at", None))

    @admin.display(description="Updated", ordering="updated_at")
    def updated(self, agent: Agent) -> str:
        return _when(agent.updated_at)

    @admin.display(description="Rating", ordering="rating")
    def rating_display(self, agent: Agent) -> str:
        if not agent.rating_count and not agent.rating:
            return "-"
        return f"{agent.rating:.1f} ★ ({agent.rating_count})"

    # -- the change page -------------------------------------------------------

    def get_readonly_fields(self, request: HttpRequest, obj: Agent | None = None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status not in (AgentStatus.DRAFT, AgentStatus.REJECTED):
            # What the reviewer signed off on (or is about to) only changes through a new submission.
            fields += [field for field in REVIEWED_FIELDS if field not in fields]
        return fields

    def get_fieldsets(self, request: HttpRequest, obj: Agent | None = None):
        if obj is None:  # a new agent has nothing to review yet
            return self.fieldsets[1:]
        return self.fieldsets

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("created_by", request.user.pk)
        return initial

    def save_model(self, request: HttpRequest, obj: Agent, form, change: bool) -> None:
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description="Validation errors")
    def validation_errors_display(self, agent: Agent) -> str:
        errors = agent.validation_errors or []
        if not errors:
            return "None"
        rows = []
        for error in errors:
            if isinstance(error, dict):
                rows.append((error.get("field", ""), error.get("message", "")))
            else:
                rows.append(("", str(error)))
        return format_html(
            '<ul style="margin:0;padding-left:1.2em;color:var(--error-fg)">{}</ul>',
            format_html_join("", "<li><code>{}</code> {}</li>", rows),
        )

    @admin.display(description="Submitted version")
    def submitted_version(self, agent: Agent) -> str:
        version = agent.versions.select_related("submitted_by").order_by("-created_at").first()
        if version is None:
            return "Never submitted."
        rows = [
            ("Version", format_html("{} {}", version.number, badge(version.status, version.get_status_display()))),
            (
                "Submitted",
                format_html("{} by {}", version.created_at.strftime("%Y-%m-%d %H:%M UTC"), version.submitted_by or "-"),
            ),
            ("Transport", version.get_transport_display()),
            ("Endpoint", version.endpoint_url or "-"),
            ("Entry point", version.entry_point or "-"),
            ("Requirements", ", ".join(version.requirements) if version.requirements else "-"),
            ("Code hash", version.code_hash or "-"),
            (
                "Pricing",
                format_html(
                    "{} ({})",
                    _price(version.pricing_model, version.price_per_use, version.monthly_price),
                    version.get_pricing_model_display(),
                ),
            ),
            ("Config schema", pretty_json(version.config_schema)),
            (
                "Snapshot",
                format_html(
                    "<details><summary>The whole agent as submitted ({} fields)</summary>{}</details>",
                    len(version.snapshot or {}),
                    pretty_json(version.snapshot),
                ),
            ),
        ]
        return format_html(
            '<table style="width:100%"><tbody>{}</tbody></table>',
            format_html_join("", '<tr><th style="width:9em;vertical-align:top">{}</th><td>{}</td></tr>', rows),
        )

    @admin.display(description="Running version")
    def current_version_link(self, agent: Agent) -> str:
        return admin_link(agent.current_version)

    # -- review actions --------------------------------------------------------

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REVIEW_PERMISSION)

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        # Deleting goes through the API's rules (an agent that has run is deactivated, not deleted).
        actions.pop("delete_selected", None)
        return actions

    def _apply(self, request: HttpRequest, agents, decide: Callable[[Agent], object], verb: str) -> None:
        """Run `decide` on each agent; each failure becomes a message naming the agent, never a 500."""
        done = []
        for agent in agents:
            try:
                decide(agent)
            except DomainError as exc:
                self.message_user(request, f"{agent.name} ({agent.slug}): {exc.message}", messages.ERROR)
            else:
                done.append(agent.name)
        if len(done) == 1:
            self.message_user(request, f"{verb} “{done[0]}”.", messages.SUCCESS)
        elif done:
            self.message_user(request, f"{verb} {len(done)} agents: {', '.join(done)}.", messages.SUCCESS)

    @admin.action(description="Approve selected agents", permissions=["review"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        self._apply(
            request,
            queryset.select_related("created_by"),
            lambda agent: services.agent_approve(agent=agent, reviewer=request.user),
            "Approved",
        )

    @admin.action(description="Reject selected agents (with a reason)…", permissions=["review"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[Agent]) -> HttpResponse | None:
        agents = list(queryset.select_related("created_by"))
        form = RejectForm(request.POST if "confirm" in request.POST else None)
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            self._apply(
                request,
                agents,
                lambda agent: services.agent_reject(agent=agent, reviewer=request.user, reason=reason),
                "Rejected",
            )
            return None
        return self._review_page(request, agents=agents, decision=ReviewDecision.REJECTED, form=form, bulk=True)

    @admin.action(description="Activate selected agents (go live)", permissions=["change"])
    def activate_selected(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        self._apply(
            request, queryset, lambda agent: services.agent_activate(agent=agent, user=request.user), "Activated"
        )

    @admin.action(description="Deactivate selected agents", permissions=["change"])
    def deactivate_selected(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        self._apply(
            request, queryset, lambda agent: services.agent_deactivate(agent=agent, user=request.user), "Deactivated"
        )

    def _review_page(self, request: HttpRequest, *, agents: list[Agent], decision: str, form, bulk: bool):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": ("Reject" if decision == ReviewDecision.REJECTED else "Approve")
            + (f" {len(agents)} agents" if len(agents) != 1 else f" “{agents[0].name}”" if agents else ""),
            "agents": [
                (agent, admin_link(agent), _price(agent.pricing_model, agent.price_per_use, agent.monthly_price))
                for agent in agents
            ],
            "decision": decision,
            "form": form,
            "bulk": bulk,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, self.review_template, context)

    # -- approve / reject buttons on the change page ----------------------------

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/approve/", self.admin_site.admin_view(self.approve_view), name=f"{prefix}_approve"),
            path("<path:object_id>/reject/", self.admin_site.admin_view(self.reject_view), name=f"{prefix}_reject"),
            *super().get_urls(),
        ]

    def _reviewable(self, request: HttpRequest, object_id: str) -> Agent:
        if not self.has_review_permission(request):
            raise PermissionDenied
        agent = self.get_object(request, unquote(object_id))
        if agent is None:
            raise Http404("No such agent.")
        return agent

    def _decision_view(self, request: HttpRequest, object_id: str, decision: str):
        agent = self._reviewable(request, object_id)
        form_class = RejectForm if decision == ReviewDecision.REJECTED else ApproveForm
        form = form_class(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            reason = form.cleaned_data["reason"]
            if decision == ReviewDecision.REJECTED:
                self._apply(
                    request,
                    [agent],
                    lambda a: services.agent_reject(agent=a, reviewer=request.user, reason=reason),
                    "Rejected",
                )
            else:
                self._apply(
                    request,
                    [agent],
                    lambda a: services.agent_approve(agent=a, reviewer=request.user, reason=reason),
                    "Approved",
                )
            return HttpResponseRedirect(reverse("admin:marketplace_agent_change", args=[agent.pk]))
        return self._review_page(request, agents=[agent], decision=decision, form=form, bulk=False)

    def approve_view(self, request: HttpRequest, object_id: str):
        return self._decision_view(request, object_id, ReviewDecision.APPROVED)

    def reject_view(self, request: HttpRequest, object_id: str):
        return self._decision_view(request, object_id, ReviewDecision.REJECTED)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_review"] = (
            obj is not None and obj.status == AgentStatus.SUBMITTED and self.has_review_permission(request)
        )
        context["own_agent"] = obj is not None and obj.created_by_id == request.user.pk
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)


# --- The records behind the queue ---------------------------------------------


@admin.register(AgentVersion)
class AgentVersionAdmin(ReadOnlyAdmin):
    list_display = ("agent", "number", "status_badge", "transport", "pricing", "submitted_by", "created_at", "decision")
    list_filter = ("status", "transport", "pricing_model", "created_at")
    search_fields = ("agent__name", "agent__slug", "number", "endpoint_url", "entry_point", "code_hash")
    list_select_related = ("agent", "submitted_by", "review__reviewer")
    date_hierarchy = "created_at"
    fields = (
        "agent_link",
        "number",
        "status_badge",
        "submitted_by",
        "created_at",
        "transport",
        "endpoint_url",
        "entry_point",
        "requirements",
        "code_hash",
        "pricing_model",
        "price_per_use",
        "monthly_price",
        "config_schema_pretty",
        "snapshot_pretty",
    )
    readonly_fields = fields

    @admin.display(description="Agent")
    def agent_link(self, version: AgentVersion) -> str:
        return admin_link(version.agent)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, version: AgentVersion) -> str:
        return badge(version.status, version.get_status_display())

    @admin.display(description="Pricing", ordering="pricing_model")
    def pricing(self, version: AgentVersion) -> str:
        return _price(version.pricing_model, version.price_per_use, version.monthly_price)

    @admin.display(description="Decision")
    def decision(self, version: AgentVersion) -> str:
        review = getattr(version, "review", None)
        if review is None:
            return "-"
        return admin_link(review, f"{review.get_decision_display()} by {review.reviewer}")

    @admin.display(description="Config schema")
    def config_schema_pretty(self, version: AgentVersion) -> str:
        return pretty_json(version.config_schema)

    @admin.display(description="Snapshot")
    def snapshot_pretty(self, version: AgentVersion) -> str:
        return pretty_json(version.snapshot)


@admin.register(AgentReview)
class AgentReviewAdmin(ReadOnlyAdmin):
    list_display = ("agent", "version_number", "decision_badge", "reviewer", "created_at", "short_reason")
    list_filter = ("decision", "created_at")
    search_fields = ("agent__name", "agent__slug", "reviewer__username", "reason")
    list_select_related = ("agent", "version", "reviewer")
    date_hierarchy = "created_at"
    fields = ("agent_link", "version_link", "decision_badge", "reviewer", "created_at", "reason")
    readonly_fields = fields

    @admin.display(description="Agent")
    def agent_link(self, review: AgentReview) -> str:
        return admin_link(review.agent)

    @admin.display(description="Version")
    def version_link(self, review: AgentReview) -> str:
        return admin_link(review.version)

    @admin.display(description="Version", ordering="version__number")
    def version_number(self, review: AgentReview) -> str:
        return review.version.number

    @admin.display(description="Decision", ordering="decision")
    def decision_badge(self, review: AgentReview) -> str:
        return badge(review.decision, review.get_decision_display())

    @admin.display(description="Reason")
    def short_reason(self, review: AgentReview) -> str:
        return Truncator(review.reason).chars(80) or "-"


@admin.register(AgentView)
class AgentViewAdmin(ReadOnlyAdmin):
    list_display = ("viewed_at", "agent", "user", "session_id")
    list_filter = ("viewed_at", "agent__business_domain")
    search_fields = ("agent__name", "agent__slug", "session_id", "user__username")
    list_select_related = ("agent", "user")
    date_hierarchy = "viewed_at"
    # The table grows with every page visit: skip the second COUNT(*) of the unfiltered table.
    show_full_result_count = False
    fields = ("agent", "user", "session_id", "viewed_at")


@admin.register(AgentPackage)
class AgentPackageAdmin(ReadOnlyAdmin):
    """Uploaded hosted-agent zips; the agent runs the one whose SHA-256 is its code hash."""

    list_display = ("agent", "sha256", "size", "filename", "uploaded_by", "created_at")
    search_fields = ("agent__slug", "agent__name", "sha256", "filename")
    list_select_related = ("agent", "uploaded_by")
    fields = ("agent", "sha256", "size", "filename", "uploaded_by", "created_at")


@admin.register(Hiring)
class HiringAdmin(ReadOnlyAdmin):
    list_display = ("agent", "user", "status_badge", "billing_cycle", "hired_at", "expires_at", "total_executions",
                    "last_executed_at")
    list_filter = ("status", "billing_cycle", "hired_at")
    search_fields = ("agent__slug", "agent__name", "user__username", "user__email")
    list_select_related = ("agent", "user")
    date_hierarchy = "hired_at"
    fields = ("agent", "user", "status_badge", "billing_cycle", "hired_at", "expires_at", "cancelled_at",
              "next_billing_date", "total_executions", "last_executed_at", "config_pretty")
    readonly_fields = fields
    actions = ["cancel_hirings"]

    @admin.display(description="Status", ordering="status")
    def status_badge(self, hiring: Hiring) -> str:
        return badge(hiring.status, hiring.get_status_display())

    @admin.display(description="Config")
    def config_pretty(self, hiring: Hiring) -> str:
        return pretty_json(hiring.config)

    @admin.action(description="Cancel the selected active hirings", permissions=["view"])
    def cancel_hirings(self, request, queryset):
        cancelled = 0
        for hiring in queryset.filter(status=Hiring.Status.ACTIVE):
            hirings.hiring_cancel(hiring=hiring)
            cancelled += 1
        self.message_user(request, f"{cancelled} hiring(s) cancelled.", messages.SUCCESS)
