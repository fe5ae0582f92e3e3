from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import request_api_key
from agenthub.api.ownership import OwnedQuerysetMixin
from billing import services as ledger
from marketplace import hirings, selectors
from marketplace import services as marketplace_services
from marketplace.api.serializers import AgentDetailSerializer
from marketplace.models import Hiring
from orchestration import services
from orchestration.api.filters import ExecutionFilterSet, HiringFilterSet
from orchestration.api.serializers import (
    ExecuteInput,
    ExecutionDetailSerializer,
    ExecutionSerializer,
    HiringInput,
    HiringSerializer,
    InvokeInput,
    InvokeResult,
    RegisterInput,
)
from orchestration.models import Execution, Task
from orchestration.transports import CallError, a2a

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER,
    description="Repeat a POST safely: the same key and body return the same execution; another body is 409.",
)
WAIT_PARAM = OpenApiParameter(
    "wait", float, description=f"Seconds (at most {settings.EXECUTION_MAX_WAIT_SECONDS}) to wait for the result: "
    "200 with it when the run ends in time, else 202.",
)


def _wait_seconds(request) -> float:
    raw = request.query_params.get("wait")
    if raw in (None, ""):
        return 0.0
    try:
        seconds = float(raw)
    except ValueError:
        raise ValidationError({"wait": [f"Must be a number of seconds, got {raw!r}."]}) from None
    if not 0 <= seconds <= settings.EXECUTION_MAX_WAIT_SECONDS:
        raise ValidationError({"wait": [f"Must be between 0 and {settings.EXECUTION_MAX_WAIT_SECONDS}."]})
    return seconds


def _idempotency_key(request) -> str | None:
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 255:
        raise ValidationError({"idempotency_key": ["At most 255 characters."]})
    return key or None


def _own_hiring(request, hiring_id):
    if hiring_id is None:
        return None
    return get_object_or_404(Hiring.objects.filter(user=request.user), pk=hiring_id)


def _agent(request, slug: str):
    agent = selectors.agent_for(slug=slug, user=request.user)
    if agent is None:
        raise Http404
    return agent


def _own_task(request, task_id):
    if task_id is None:
        return None
    return get_object_or_404(Task.objects.filter(user=request.user), pk=task_id)


def _start(request, *, agent_slug: str, input, hiring_id=None, task_id=None, source: str, wait: float):
    agent = _agent(request, agent_slug)
    execution, created = services.execution_start(
        user=request.user, agent=agent, input=input, hiring=_own_hiring(request, hiring_id),
        task=_own_task(request, task_id), idempotency_key=_idempotency_key(request), source=source,
        api_key=request_api_key(request),  # a key's runs count against its daily cap
    )
    if wait:
        return services.execution_wait(execution=execution, timeout=wait)
    if not created:
        return _with_relations(execution)
    execution.refresh_from_db()  # tasks may run inline (no Redis): show what the run is now
    execution.agent, execution.version = agent, agent.current_version
    return execution


def _with_relations(execution: Execution) -> Execution:
    return Execution.objects.select_related("agent", "version").get(pk=execution.pk)


class ExecuteView(APIView):
    """Run an agent (seed 003): 202 with the pending execution, or 200 with the result under ?wait=N."""

    permission_classes = [permissions.IsAuthenticated]
    required_scope = "invoke"  # an API key needs the invoke scope to run agents

    @extend_schema(request=ExecuteInput, responses={200: ExecutionSerializer, 202: ExecutionSerializer},
                   parameters=[WAIT_PARAM, IDEMPOTENCY_HEADER])
    def post(self, request, id):
        data = ExecuteInput(data=request.data)
        data.is_valid(raise_exception=True)
        wait = _wait_seconds(request)
        execution = _start(request, agent_slug=id, input=data.validated_data["input"],
                           hiring_id=data.validated_data.get("hiring_id"), source="api", wait=wait)
        code = status.HTTP_200_OK if wait and execution.is_terminal else status.HTTP_202_ACCEPTED
        return Response(ExecutionSerializer(execution).data, status=code)


class InvokeAgentView(APIView):
    """Seed 004's invoke: waits for the result; 202 with the execution when the run takes longer."""

    permission_classes = [permissions.IsAuthenticated]
    required_scope = "invoke"  # an API key needs the invoke scope to run agents

    @extend_schema(request=InvokeInput, responses={200: InvokeResult, 202: ExecutionSerializer},
                   parameters=[IDEMPOTENCY_HEADER])
    def post(self, request):
        data = InvokeInput(data=request.data)
        data.is_valid(raise_exception=True)
        execution = _start(request, agent_slug=data.validated_data["agent_id"], input=data.validated_data["payload"],
                           task_id=data.validated_data.get("task_id"), source="invoke",
                           wait=settings.EXECUTION_MAX_WAIT_SECONDS)
        if not execution.is_terminal:
            return Response(ExecutionSerializer(execution).data, status=status.HTTP_202_ACCEPTED)
        return Response({
            "execution_id": execution.execution_id, "status": execution.status, "result": execution.output,
            "cost": execution.cost, "execution_time": execution.duration_ms,
            **({"error": execution.error} if execution.error else {}),
        })


class RegisterAgentView(APIView):
    """Seed 003's agent registration: read an A2A Agent Card and create a draft agent from it."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=RegisterInput, responses={201: AgentDetailSerializer})
    def post(self, request):
        data = RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        url = data.validated_data["card_url"]
        try:
            card = a2a.fetch_agent_card(url)
        except CallError as error:
            raise ValidationError({"card_url": [f"Could not read an Agent Card there: {error.message}"]}) from None
        fields = a2a.agent_fields_from_card(card, url)
        fields.pop("slug", None)  # named after the card, made unique
        agent = marketplace_services.agent_create(user=request.user, data=fields)
        agent = selectors.agent_visible(user=request.user).get(pk=agent.pk)
        return Response(AgentDetailSerializer(agent, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)


class HiringViewSet(OwnedQuerysetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Your hirings (seed 002). Hiring validates the config against the agent's JSON Schema."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = HiringSerializer
    filterset_class = HiringFilterSet
    queryset = Hiring.objects.select_related("agent")
    required_scope = {"create": "invoke", "cancel": "invoke"}  # hiring is part of running agents

    @extend_schema(request=HiringInput, responses={201: HiringSerializer})
    def create(self, request, *args, **kwargs):
        data = HiringInput(data=request.data)
        data.is_valid(raise_exception=True)
        agent = _agent(request, data.validated_data["agent"])
        hiring = hirings.hiring_create(user=request.user, agent=agent, config=data.validated_data["config"],
                                       billing_cycle=data.validated_data["billing_cycle"])
        return Response(HiringSerializer(hiring).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: HiringSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return Response(HiringSerializer(hirings.hiring_cancel(hiring=self.get_object())).data)


class ExecutionViewSet(OwnedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Your executions, newest first; one with its timeline, attempts and resource use."""

    permission_classes = [permissions.IsAuthenticated]
    filterset_class = ExecutionFilterSet
    queryset = Execution.objects.select_related("agent", "version")
    required_scope = {"cancel": "invoke"}

    def get_queryset(self):
        if self.action == "refund" and self.request.user.is_staff:
            queryset = self.queryset  # staff refund anyone's run
        else:
            queryset = super().get_queryset()
        return queryset.prefetch_related("attempts") if self.action != "list" else queryset

    def get_serializer_class(self):
        return ExecutionSerializer if self.action == "list" else ExecutionDetailSerializer

    @extend_schema(request=None, responses={200: ExecutionDetailSerializer},
                   summary="Refund what a run was charged (staff); at most once")
    @action(detail=True, methods=["post"])
    def refund(self, request, pk=None):
        execution = self.get_object()
        if not request.user.is_staff:
            raise PermissionDenied("Only staff refund runs.")
        ledger.execution_refund(execution=execution, memo=f"Refunded by {request.user.username}")
        return Response(ExecutionDetailSerializer(_with_relations(execution)).data)

    @extend_schema(request=None, responses={200: ExecutionDetailSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        execution = services.execution_cancel(execution=self.get_object())
        return Response(ExecutionDetailSerializer(_with_relations(execution)).data)
