from rest_framework import serializers

from marketplace.models import Hiring
from orchestration.models import Execution, ExecutionAttempt


class HiringSerializer(serializers.ModelSerializer):
    agent = serializers.CharField(source="agent.slug", read_only=True)
    agent_name = serializers.CharField(source="agent.name", read_only=True)

    class Meta:
        model = Hiring
        fields = [
            "id", "agent", "agent_name", "status", "config", "billing_cycle", "hired_at", "expires_at",
            "cancelled_at", "next_billing_date", "total_executions", "last_executed_at", "created_at", "updated_at",
        ]


class HiringInput(serializers.Serializer):
    agent = serializers.CharField(max_length=80, help_text="The agent's id (slug).")
    config = serializers.JSONField(required=False, default=dict)
    billing_cycle = serializers.ChoiceField(choices=Hiring.BillingCycle.choices, required=False, default="")


class ExecutionAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExecutionAttempt
        fields = ["number", "outcome", "error", "worker", "started_at", "finished_at", "duration_ms"]


class ExecutionSerializer(serializers.ModelSerializer):
    agent = serializers.CharField(source="agent.slug", read_only=True)
    agent_name = serializers.CharField(source="agent.name", read_only=True)
    version = serializers.CharField(source="version.number", read_only=True, default=None)
    hiring_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = Execution
        fields = [
            "id", "execution_id", "agent", "agent_name", "version", "hiring_id", "status", "input", "output",
            "error", "error_code", "created_at", "started_at", "completed_at", "duration_ms", "attempt_count",
            "cpu_usage", "memory_usage", "disk_usage", "cost", "source",
        ]


class ExecutionDetailSerializer(ExecutionSerializer):
    attempts = ExecutionAttemptSerializer(many=True, read_only=True)
    timeline = serializers.SerializerMethodField()

    class Meta(ExecutionSerializer.Meta):
        fields = [*ExecutionSerializer.Meta.fields, "attempts", "timeline"]

    def get_timeline(self, execution) -> list[dict]:
        """The states the run went through, with when."""
        steps = [{"status": "pending", "at": execution.created_at}]
        if execution.started_at:
            steps.append({"status": "running", "at": execution.started_at})
        if execution.is_terminal:
            steps.append({"status": execution.status, "at": execution.completed_at})
        return steps


class ExecuteInput(serializers.Serializer):
    input = serializers.JSONField(help_text="The agent's input: a JSON object.")
    hiring_id = serializers.UUIDField(required=False, allow_null=True)


class InvokeInput(serializers.Serializer):
    """Seed 004's /api/invoke-agent body."""

    agent_id = serializers.CharField(max_length=80)
    task_id = serializers.UUIDField(required=False, allow_null=True)
    payload = serializers.JSONField()


class InvokeResult(serializers.Serializer):
    execution_id = serializers.CharField()
    status = serializers.CharField()
    result = serializers.JSONField(allow_null=True)
    cost = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
    execution_time = serializers.IntegerField(allow_null=True, help_text="Milliseconds.")


class RegisterInput(serializers.Serializer):
    card_url = serializers.URLField(
        max_length=500, help_text="An Agent Card URL, or a base URL whose /.well-known/agent-card.json is read."
    )
