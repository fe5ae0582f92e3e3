"""Runs as staff see them: every execution with its attempts, HubChat tasks with their steps, and the
health monitor's probes."""

from django.contrib import admin, messages

from agenthub.admin_display import NoWrites, ReadOnlyAdmin, admin_link, badge, pretty_json
from agenthub.errors import DomainError
from orchestration import services
from orchestration.hubchat import services as hubchat
from orchestration.models import Execution, ExecutionAttempt, HealthCheck, Message, Task, TaskStep


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


class StepInline(NoWrites, admin.TabularInline):
    model = TaskStep
    fields = ("position", "subtask_type", "agent", "status", "price", "cost", "external_cost", "attempts",
              "execution_time", "error")
    readonly_fields = fields
    extra = 0


@admin.register(Task)
class TaskAdmin(ReadOnlyAdmin):
    list_display = ("user_query_short", "user", "status_badge", "max_budget", "quote_total", "total_cost", "planner",
                    "created_at")
    list_filter = ("status", "source", "planner", "created_at")
    search_fields = ("id", "user_query", "user__username")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [StepInline]
    fields = ("user", "user_query", "required_skills", "status_badge", "source", "max_budget", "quote_total",
              "total_cost", "planner", "planner_notes", "error", "created_at", "confirmed_at", "started_at",
              "completed_at")
    readonly_fields = fields
    actions = ["cancel_tasks"]

    @admin.display(description="Request")
    def user_query_short(self, task: Task) -> str:
        return task.user_query[:80]

    @admin.display(description="Status", ordering="status")
    def status_badge(self, task: Task) -> str:
        return badge(task.status, task.get_status_display())

    @admin.action(description="Cancel the selected tasks (running steps stop, holds are released)",
                  permissions=["view"])
    def cancel_tasks(self, request, queryset):
        cancelled = 0
        for task in queryset.exclude(status__in=("completed", "failed", "cancelled")):
            try:
                hubchat.task_cancel(task=task)
                cancelled += 1
            except DomainError:
                pass  # it finished meanwhile
        self.message_user(request, f"{cancelled} task(s) cancelled.", messages.SUCCESS)


@admin.register(TaskStep)
class TaskStepAdmin(ReadOnlyAdmin):
    list_display = ("task", "position", "subtask_type", "agent", "status_badge", "price", "cost", "attempts")
    list_filter = ("status", "subtask_type")
    search_fields = ("task__id", "agent__slug", "subtask_type")
    list_select_related = ("task", "agent")
    show_full_result_count = False
    fields = ("task", "position", "subtask_type", "instruction", "depends_on", "agent", "status_badge", "price",
              "quote_id", "cost", "external_cost", "requires_external_tool", "attempts", "execution_time", "error",
              "input_pretty", "selection_pretty", "output_pretty", "created_at", "started_at", "completed_at")
    readonly_fields = fields

    @admin.display(description="Status", ordering="status")
    def status_badge(self, step: TaskStep) -> str:
        return badge(step.status, step.get_status_display())

    @admin.display(description="Input")
    def input_pretty(self, step: TaskStep) -> str:
        return pretty_json(step.input)

    @admin.display(description="Selection")
    def selection_pretty(self, step: TaskStep) -> str:
        return pretty_json(step.selection)

    @admin.display(description="Output")
    def output_pretty(self, step: TaskStep) -> str:
        return pretty_json(step.output)


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "role", "content_short", "task")
    list_filter = ("role", "created_at")
    search_fields = ("content", "user__username")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = ("user", "role", "content", "task", "cost_breakdown", "created_at")
    readonly_fields = fields

    @admin.display(description="Content")
    def content_short(self, message: Message) -> str:
        return message.content[:100]
