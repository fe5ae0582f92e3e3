import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


def new_execution_id() -> str:
    return f"exec_{secrets.token_hex(12)}"


class ExecutionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    TIMEOUT = "timeout", "Timed out"
    CANCELLED = "cancelled", "Cancelled"


TERMINAL_STATUSES = (
    ExecutionStatus.COMPLETED,
    ExecutionStatus.FAILED,
    ExecutionStatus.TIMEOUT,
    ExecutionStatus.CANCELLED,
)


class Execution(models.Model):
    """One run of one agent version (seed 002's executions), from queueing to a terminal state."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    execution_id = models.CharField(max_length=64, unique=True, default=new_execution_id, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="executions")
    agent = models.ForeignKey("marketplace.Agent", on_delete=models.PROTECT, related_name="executions")
    version = models.ForeignKey(
        "marketplace.AgentVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="executions",
        help_text="What ran: the agent's current version when the run was asked for.",
    )
    hiring = models.ForeignKey(
        "marketplace.Hiring", null=True, blank=True, on_delete=models.SET_NULL, related_name="executions"
    )
    status = models.CharField(
        max_length=20, choices=ExecutionStatus.choices, default=ExecutionStatus.PENDING, db_index=True
    )
    input = models.JSONField(default=dict)
    config = models.JSONField(default=dict, blank=True, help_text="The hiring's config at the time of the run.")
    output = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="A running execution not finished by then lost its worker."
    )
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    attempt_count = models.PositiveSmallIntegerField(default=0)
    cpu_usage = models.FloatField(null=True, blank=True, help_text="CPU seconds (hosted agents).")
    memory_usage = models.FloatField(null=True, blank=True, help_text="Peak memory in MB (hosted agents).")
    disk_usage = models.FloatField(null=True, blank=True, help_text="Disk written in MB (hosted agents).")
    price = models.DecimalField(
        max_digits=12, decimal_places=4, default=0, help_text="The price quoted when the run was asked for: "
        "the most it can be charged (held on the wallet while it runs).",
    )
    reported_cost = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True, help_text="What the agent said the run cost."
    )
    cost = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True,
        help_text="What the run was charged: the reported cost, never above the price; 0 when it failed.",
    )
    session_id = models.CharField(max_length=64, blank=True, help_text="Seed 002's acp_session_id.")
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=20, default="api", help_text="api, invoke, hubchat...")
    task = models.ForeignKey("Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="executions")
    task_step = models.ForeignKey(
        "TaskStep", null=True, blank=True, on_delete=models.SET_NULL, related_name="executions"
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="executions",
        help_text="The API key that asked for the run, if any (its spend cap applies).",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="execution_user_idx"),
            models.Index(fields=["agent", "-created_at"], name="execution_agent_idx"),
            models.Index(fields=["lease_expires_at"], name="execution_lease_idx", condition=Q(status="running")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"], condition=Q(idempotency_key__isnull=False),
                name="execution_idempotency_uniq",
            ),
        ]

    def __str__(self) -> str:
        return self.execution_id

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class ExecutionAttempt(models.Model):
    """One try at calling the agent for an execution."""

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        TRANSIENT = "transient_error", "Transient error"
        TIMEOUT = "timeout", "Timed out"
        WORKER_LOST = "worker_lost", "Worker lost"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.RUNNING)
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["execution", "number"]
        constraints = [
            models.UniqueConstraint(fields=["execution", "number"], name="attempt_execution_number_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.execution_id} #{self.number} {self.outcome}"


class HealthCheck(models.Model):
    """One probe of an agent's health endpoint (or Agent Card) by the monitor."""

    id = models.BigAutoField(primary_key=True)
    agent = models.ForeignKey("marketplace.Agent", on_delete=models.CASCADE, related_name="health_checks")
    checked_at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField()
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    load = models.FloatField(null=True, blank=True)
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-checked_at"]
        indexes = [models.Index(fields=["agent", "-checked_at"], name="healthcheck_agent_idx")]

    def __str__(self) -> str:
        return f"{self.agent_id} {'ok' if self.ok else 'down'} @ {self.checked_at:%H:%M:%S}"


# --- HubChat: tasks, their steps, and the conversation (seed 004) ----------------------------------


class TaskStatus(models.TextChoices):
    CREATED = "created", "Created"
    AWAITING_CONFIRMATION = "awaiting_confirmation", "Awaiting confirmation"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


TASK_TERMINAL_STATUSES = (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED)


class Task(models.Model):
    """A request HubChat plans into steps, quotes, and runs within `max_budget` (seed 004's Task)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tasks")
    user_query = models.TextField()
    required_skills = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=24, choices=TaskStatus.choices, default=TaskStatus.CREATED, db_index=True)
    max_budget = models.DecimalField(max_digits=12, decimal_places=4)
    total_cost = models.DecimalField(
        max_digits=12, decimal_places=4, default=0,
        help_text="Captured step costs plus external costs; never above the budget.",
    )
    quote_total = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True, help_text="The quoted total of the chosen agents."
    )
    auto_approved = models.BooleanField(
        default=False, help_text="The quote was within the user's auto-approve threshold, so it ran without asking."
    )
    planner = models.CharField(max_length=100, blank=True, help_text="Which planner made the plan.")
    planner_notes = models.JSONField(
        default=list, blank=True, help_text="What happened on the way: providers that failed and were skipped."
    )
    error = models.TextField(blank=True)
    source = models.CharField(max_length=20, default="api", help_text="api or hubchat.")
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks",
        help_text="The API key that asked for the task, if any: its daily cap applies to the steps' runs.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="task_user_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(max_budget__gte=0), name="task_budget_not_negative"),
            models.CheckConstraint(condition=Q(total_cost__lte=models.F("max_budget")), name="task_cost_within_budget"),
        ]

    def __str__(self) -> str:
        return f"{self.user_query[:60]} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TASK_TERMINAL_STATUSES


class StepStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    SKIPPED = "skipped", "Skipped"


class TaskStep(models.Model):
    """One subtask of a task: a skill, its input, the steps it waits for, and the agent chosen to do it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(help_text="0-based order in the plan.")
    subtask_type = models.CharField(max_length=80, help_text="The skill the step needs.")
    instruction = models.TextField(blank=True, help_text="What the planner asked of the step, in words.")
    input = models.JSONField(default=dict, blank=True)
    depends_on = models.JSONField(default=list, blank=True, help_text="Positions of the steps whose output it takes.")
    agent = models.ForeignKey(
        "marketplace.Agent", null=True, blank=True, on_delete=models.PROTECT, related_name="task_steps"
    )
    status = models.CharField(max_length=20, choices=StepStatus.choices, default=StepStatus.PENDING)
    price = models.DecimalField(
        max_digits=12, decimal_places=4, default=0, help_text="The chosen agent's quoted price for the step."
    )
    quote_id = models.CharField(max_length=100, blank=True, help_text="A negotiated quote the run refers to.")
    selection = models.JSONField(
        default=dict, blank=True, help_text="Why the agent was chosen and which candidates were passed over.",
    )
    cost = models.DecimalField(max_digits=12, decimal_places=4, default=0)
    external_cost = models.DecimalField(max_digits=12, decimal_places=4, default=0)
    requires_external_tool = models.BooleanField(default=False)
    output = models.JSONField(null=True, blank=True)
    result = models.TextField(blank=True, help_text="The output as text (seed 004's result).")
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Agents tried (a failure moves to the next).")
    execution_time = models.PositiveIntegerField(null=True, blank=True, help_text="Milliseconds.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["task", "position"]
        constraints = [models.UniqueConstraint(fields=["task", "position"], name="taskstep_task_position_uniq")]

    def __str__(self) -> str:
        return f"{self.task_id} #{self.position} {self.subtask_type}"


class Message(models.Model):
    """One line of a user's HubChat conversation (seed 004's Message)."""

    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hubchat_messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField()
    task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    cost_breakdown = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["user", "created_at"], name="message_user_idx")]
        constraints = [
            # One assistant answer per task, however often its last step is delivered.
            models.UniqueConstraint(fields=["task"], condition=Q(role="assistant"), name="message_one_answer_per_task"),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"
