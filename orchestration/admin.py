"""Runs as staff see them: every execution with its attempts, and the health monitor's probes."""

from django.contrib import admin, messages

from agenthub.admin_display import NoWrites, ReadOnlyAdmin, admin_link, badge, pretty_json
from agenthub.errors import DomainError
from orchestration import services
from orchestration.models import Execution, ExecutionAttempt, HealthCheck


class AttemptInline(NoWrites, admin.TabularInline):
    model = ExecutionAttempt
    fields = ("number", "outcome", "error", "worker", "started_at", "finished_at", "duration_ms")
    readonly_fields = fields
    extra = 0


@admin.register(Execution)
class ExecutionAdmin(ReadOnlyAdmin):
    list_display = ("execution_id", "agent", "user", "status_badge", "created_at", "duration_ms", "attempt_count",
                    "cost", "source")
    list_filter = ("status", "source", "created_at", "agent__transport")
    search_fields = ("execution_id", "agent__slug", "agent__name", "user__username", "idempotency_key")
    list_select_related = ("agent", "user")
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [AttemptInline]
    fields = (
        "execution_id", "agent_link", "version", "user", "hiring_link", "status_badge", "source", "created_at",
        "started_at", "completed_at", "duration_ms", "attempt_count", "cost", "cpu_usage", "memory_usage",
        "disk_usage", "error_code", "error", "input_pretty", "config_pretty", "output_pretty", "idempotency_key",
    )
    readonly_fields = fields
    actions = ["cancel_executions"]

    @admin.display(description="Status", ordering="status")
    def status_badge(self, execution: Execution) -> str:
        return badge(execution.status, execution.get_status_display())

    @admin.display(description="Agent")
    def agent_link(self, execution: Execution) -> str:
        return admin_link(execution.agent)

    @admin.display(description="Hiring")
    def hiring_link(self, execution: Execution) -> str:
        return admin_link(execution.hiring)

    @admin.display(description="Input")
    def input_pretty(self, execution: Execution) -> str:
        return pretty_json(execution.input)

    @admin.display(description="Config")
    def config_pretty(self, execution: Execution) -> str:
        return pretty_json(execution.config)

    @admin.display(description="Output")
    def output_pretty(self, execution: Execution) -> str:
        return pretty_json(execution.output)

    @admin.action(description="Cancel the selected pending or running executions", permissions=["view"])
    def cancel_executions(self, request, queryset):
        cancelled = 0
        for execution in queryset.filter(status__in=("pending", "running")):
            try:
                services.execution_cancel(execution=execution)
                cancelled += 1
            except DomainError:
                pass  # it finished meanwhile
        self.message_user(request, f"{cancelled} execution(s) cancelled.", messages.SUCCESS)


@admin.register(HealthCheck)
class HealthCheckAdmin(ReadOnlyAdmin):
    list_display = ("checked_at", "agent", "ok", "response_ms", "load", "detail")
    list_filter = ("ok", "checked_at")
    search_fields = ("agent__slug", "agent__name", "detail")
    list_select_related = ("agent",)
    date_hierarchy = "checked_at"
    show_full_result_count = False
    fields = ("agent", "checked_at", "ok", "response_ms", "load", "detail")
