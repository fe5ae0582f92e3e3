"""Seed 004's tasks, task steps, messages and HubChat endpoints."""

import django_filters
from django.db.models import Q
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import request_api_key
from agenthub.api.ownership import OwnedQuerysetMixin
from orchestration.hubchat import services
from orchestration.models import Message, Task, TaskStatus, TaskStep

MONEY = {"max_digits": 12, "decimal_places": 4}


class TaskSerializer(serializers.ModelSerializer):
    quote = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = [
            "id", "user_query", "required_skills", "status", "max_budget", "total_cost", "created_at",
            "completed_at", "quote", "planner", "planner_notes", "error", "source", "confirmed_at", "started_at",
        ]

    def get_quote(self, task) -> dict | None:
        return services.task_quote(task)


class TaskStepSerializer(serializers.ModelSerializer):
    task_id = serializers.UUIDField(read_only=True)
    agent_id = serializers.CharField(source="agent.slug", read_only=True, default=None)
    agent_name = serializers.CharField(source="agent.name", read_only=True, default=None)

    class Meta:
        model = TaskStep
        fields = [
            "id", "task_id", "agent_id", "subtask_type", "status", "cost", "external_cost", "requires_external_tool",
            "result", "execution_time", "created_at", "completed_at",
            "position", "instruction", "depends_on", "agent_name", "price", "selection", "output", "error",
            "attempts", "started_at",
        ]


class MessageSerializer(serializers.ModelSerializer):
    task_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = Message
        fields = ["id", "role", "content", "task_id", "cost_breakdown", "created_at"]


class TaskInput(serializers.Serializer):
    user_query = serializers.CharField(max_length=services.MAX_QUERY_CHARS, trim_whitespace=True)
    required_skills = serializers.ListField(child=serializers.CharField(max_length=80), required=False,
                                            max_length=8, default=list)
    max_budget = serializers.DecimalField(**MONEY, min_value=0)


class TaskChange(serializers.Serializer):
    status = serializers.ChoiceField(choices=[TaskStatus.CANCELLED], required=False,
                                     help_text="`cancelled` stops the task.")
    max_budget = serializers.DecimalField(**MONEY, min_value=0, required=False,
                                          help_text="A new budget, before the task runs.")


class HubChatInput(serializers.Serializer):
    content = serializers.CharField(max_length=services.MAX_QUERY_CHARS)
    max_budget = serializers.DecimalField(**MONEY, min_value=0, required=False, allow_null=True,
                                          help_text="BB; the default comes from settings (1 BB).")


class TaskFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=TaskStatus.choices)
    q = django_filters.CharFilter(method="search", help_text="Words in the request.")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    source = django_filters.ChoiceFilter(choices=[("api", "api"), ("hubchat", "hubchat")])

    class Meta:
        model = Task
        fields = ["status", "q", "created_after", "created_before", "source"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(user_query__icontains=value))


class TaskViewSet(OwnedQuerysetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """The user's tasks: create, list, read, change the budget or cancel (PATCH), cancel (DELETE),
    confirm a quote, and the steps."""

    queryset = services.tasks_with_steps(Task.objects.all())
    serializer_class = TaskSerializer
    filterset_class = TaskFilterSet
    permission_classes = [permissions.IsAuthenticated]
    required_scope = {"get": "read", "post": "invoke", "patch": "invoke", "delete": "invoke"}  # runs spend money
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    @extend_schema(request=TaskInput, responses={201: TaskSerializer})
    def create(self, request, *args, **kwargs):
        data = TaskInput(data=request.data)
        data.is_valid(raise_exception=True)
        task = services.task_create(user=request.user, api_key=request_api_key(request), **data.validated_data)
        task.refresh_from_db()  # without a worker, planning ran inline
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TaskChange, responses={200: TaskSerializer})
    def partial_update(self, request, *args, **kwargs):
        task = self.get_object()
        data = TaskChange(data=request.data)
        data.is_valid(raise_exception=True)
        if "max_budget" in data.validated_data:
            task = services.task_budget_change(task=task, max_budget=data.validated_data["max_budget"])
        if data.validated_data.get("status") == TaskStatus.CANCELLED:
            task = services.task_cancel(task=task)
        return Response(TaskSerializer(task).data)

    @extend_schema(request=None, responses={200: TaskSerializer})
    def destroy(self, request, *args, **kwargs):
        """Cancel the task (it stays on record): running steps are cancelled, their holds released."""
        return Response(TaskSerializer(services.task_cancel(task=self.get_object())).data)

    @extend_schema(request=None, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """Accept the quote of a task awaiting confirmation: it runs."""
        return Response(TaskSerializer(services.task_confirm(task=self.get_object())).data)

    @extend_schema(responses={200: TaskStepSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def steps(self, request, pk=None):
        task = self.get_object()
        return Response(TaskStepSerializer(task.steps.all(), many=True).data)


class MessageFilterSet(django_filters.FilterSet):
    task = django_filters.UUIDFilter(field_name="task_id")

    class Meta:
        model = Message
        fields = ["task"]


class MessageListView(OwnedQuerysetMixin, ListAPIView):
    """The user's HubChat conversation, oldest first."""

    queryset = Message.objects.all().order_by("created_at")
    serializer_class = MessageSerializer
    filterset_class = MessageFilterSet
    permission_classes = [permissions.IsAuthenticated]
    pagination_class = None


class HubChatMessageView(APIView):
    """Send HubChat a message: it plans, quotes and runs a task; the answer arrives as a message."""

    permission_classes = [permissions.IsAuthenticated]
    required_scope = "invoke"

    @extend_schema(request=HubChatInput, responses={200: inline_serializer("HubChatAccepted", {
        "success": serializers.BooleanField(), "task_id": serializers.UUIDField(),
        "message_id": serializers.UUIDField(),
    })})
    def post(self, request):
        data = HubChatInput(data=request.data)
        data.is_valid(raise_exception=True)
        message, task = services.hubchat_message_send(user=request.user, api_key=request_api_key(request),
                                                      **data.validated_data)
        return Response({"success": True, "task_id": task.pk, "message_id": message.pk})
