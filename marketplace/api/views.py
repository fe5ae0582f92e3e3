from django.core.cache import cache
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action, api_view, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from agenthub.api.dialect import is_snake_case
from agenthub.web import visitor_session_id
from marketplace import selectors, services
from marketplace.api.serializers import (
    SEARCH_COLUMNS,
    SUMMARY_COLUMNS,
    AgentDetailSerializer,
    AgentSearchHitSerializer,
    AgentSerializer,
    AgentSummarySerializer,
    AgentWriteSerializer,
    PackageUpload,
    ReviewDecisionInput,
    ReviewSerializer,
    ViewInput,
)
from marketplace.filters import AgentFilterSet
from marketplace.models import Agent

PUBLIC_PAGE_TTL = 5  # seconds

ViewCountSerializer = inline_serializer("ViewCount", {"message": serializers.CharField(),
                                                      "view_count": serializers.IntegerField()})


class AgentViewSet(viewsets.ModelViewSet):
    """The agent catalog. `id` in paths is the agent's slug."""

    lookup_field = "slug"
    lookup_url_kwarg = "id"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    filterset_class = AgentFilterSet

    def _summary_list(self) -> bool:
        # /api/ lists carry seed 004's shape; seed 000's client (/api/v1/) reads the full agent in lists.
        return self.action == "list" and not is_snake_case(self.request.path)

    def get_queryset(self):
        agents = selectors.agent_visible(user=self.request.user)
        if self._summary_list():
            # Rows, not model instances: the summary reads plain columns (see PlannedRepresentation).
            agents = agents.values(*SUMMARY_COLUMNS, "creator_username")
        return agents

    def _filtered(self) -> bool:
        return bool(self.request.query_params.keys() & AgentFilterSet.base_filters.keys())

    def filter_queryset(self, queryset):
        # Filters and ordering shape lists; one agent is looked up by its id alone.
        if self.action != "list" or not self._filtered():
            return queryset  # building a FilterSet costs more than this whole query
        return super().filter_queryset(queryset)

    def _public_catalog(self) -> bool:
        """The unfiltered catalog as anyone sees it: the busiest read there is."""
        return self.action == "list" and not self.request.user.is_authenticated and not self._filtered()

    def paginate_queryset(self, queryset):
        if self._public_catalog():
            self.paginator.known_count = selectors.listed_agent_count()
        return super().paginate_queryset(queryset)

    def list(self, request, *args, **kwargs):
        if not self._public_catalog() or request.accepted_renderer.format != "json":
            return super().list(request, *args, **kwargs)
        # Its pages are shared by every visitor for a few seconds; any saved agent moves the
        # catalog version and so starts new pages at once. Counters that change without a save
        # (views, trending) may show up to PUBLIC_PAGE_TTL seconds late.
        paginator = self.paginator
        limit, offset = paginator.get_limit(request), paginator.get_offset(request)
        key = f"catalog:page:{selectors.catalog_version()}:{request.path}:{limit}:{offset}"
        page = cache.get(key)
        if page is None:
            page = self.get_serializer(self.paginate_queryset(self.get_queryset()), many=True).data
            cache.set(key, page, PUBLIC_PAGE_TTL)
        else:
            paginator.describe(request, count=selectors.listed_agent_count(), limit=limit, offset=offset)
        return paginator.get_paginated_response(page)

    def get_serializer_class(self):
        if self.action in ("create", "update", "partial_update"):
            return AgentWriteSerializer
        if self.action == "retrieve":
            return AgentDetailSerializer
        return AgentSummarySerializer if self._summary_list() else AgentSerializer

    @extend_schema(responses={200: AgentDetailSerializer})
    def retrieve(self, request, *args, **kwargs):
        return Response(self._detail(self.get_object()))

    def _detail(self, agent, *, reload: bool = False) -> dict:
        """One agent with every field; its review decisions only for those allowed to see them."""
        if reload:  # after a write: read it back the way GET reads it
            agent = selectors.agent_visible(user=self.request.user).get(pk=agent.pk)
        context = self.get_serializer_context()
        if selectors.agent_reviews_visible_to(agent=agent, user=self.request.user):
            return AgentDetailSerializer(agent, context=context).data
        return AgentSerializer(agent, context=context).data

    def _write(self, request, *, agent=None, partial=False):
        data = AgentWriteSerializer(instance=agent, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        if agent is None:
            agent = services.agent_create(user=request.user, data=data.validated_data)
        else:
            agent = services.agent_update(agent=agent, user=request.user, data=data.validated_data)
        return self._detail(agent, reload=True)

    @extend_schema(responses={201: AgentDetailSerializer})
    def create(self, request, *args, **kwargs):
        return Response(self._write(request), status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: AgentDetailSerializer})
    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        return Response(self._write(request, agent=self.get_object(), partial=partial))

    def destroy(self, request, *args, **kwargs):
        outcome = services.agent_delete(agent=self.get_object(), user=request.user)
        if outcome == "deleted":
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response({"message": "The agent has run before, so it was deactivated and unlisted instead."})

    @extend_schema(request=None, responses={200: AgentDetailSerializer})
    @action(detail=True, methods=["post"])
    def submit(self, request, id=None):
        agent = self.get_object()
        services.agent_submit(agent=agent, user=request.user)
        return Response(self._detail(agent, reload=True))

    @extend_schema(request=ReviewDecisionInput, responses={200: ReviewSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, id=None):
        return self._decide(request, services.agent_approve)

    @extend_schema(request=ReviewDecisionInput, responses={200: ReviewSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, id=None):
        return self._decide(request, services.agent_reject)

    def _decide(self, request, decision) -> Response:
        data = ReviewDecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        review = decision(agent=self.get_object(), reviewer=request.user, **data.validated_data)
        return Response(ReviewSerializer(review).data)

    @extend_schema(request=None, responses={200: AgentDetailSerializer})
    @action(detail=True, methods=["post"])
    def activate(self, request, id=None):
        return Response(self._detail(services.agent_activate(agent=self.get_object(), user=request.user), reload=True))

    @extend_schema(request=None, responses={200: AgentDetailSerializer})
    @action(detail=True, methods=["post"])
    def deactivate(self, request, id=None):
        return Response(
            self._detail(services.agent_deactivate(agent=self.get_object(), user=request.user), reload=True)
        )

    @extend_schema(
        request={"multipart/form-data": PackageUpload}, responses={201: AgentDetailSerializer},
        summary="Upload a hosted agent's package (a zip); its SHA-256 becomes the agent's code hash",
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def package(self, request, id=None):
        agent = self.get_object()  # first: someone else's draft is a 404 whatever the body holds
        data = PackageUpload(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        services.agent_package_upload(agent=agent, user=request.user, content=upload.read(), filename=upload.name)
        return Response(self._detail(agent, reload=True), status=status.HTTP_201_CREATED)

    @extend_schema(request=ViewInput, responses={200: ViewCountSerializer})
    @action(detail=True, methods=["post"], permission_classes=[permissions.AllowAny])
    def view(self, request, id=None):
        data = ViewInput(data=request.data)
        data.is_valid(raise_exception=True)
        session_id = data.validated_data.get("session_id") or visitor_session_id(request)
        user = request.user if request.user.is_authenticated else None
        counted, count = services.agent_view_record(agent=self.get_object(), session_id=session_id, user=user)
        message = "View recorded." if counted else "Already counted for this session in the last 30 minutes."
        return Response({"message": message, "view_count": count})


def _int_param(request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: [f"Must be a whole number, got {raw!r}."]}) from None
    if not low <= value <= high:
        raise ValidationError({name: [f"Must be between {low} and {high}."]})
    return value


@extend_schema(summary="Catalog statistics", responses={200: dict})
@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def analytics_stats(request):
    return Response(selectors.analytics_stats())


@extend_schema(
    summary="Agents viewed most in the last days, recent views weighing more",
    parameters=[OpenApiParameter("days", int, default=7), OpenApiParameter("limit", int, default=10)],
    responses={200: dict},
)
@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def analytics_trending(request):
    days = _int_param(request, "days", 7, 1, 365)
    limit = _int_param(request, "limit", 10, 1, 100)
    return Response(selectors.analytics_trending(days=days, limit=limit))


@extend_schema(summary="Agents, views and average rating per business domain", responses={200: dict})
@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def analytics_by_domain(request):
    return Response(selectors.analytics_by_domain())


class SearchView(viewsets.GenericViewSet):
    serializer_class = AgentSearchHitSerializer
    queryset = Agent.objects.none()  # for the schema; hits come from selectors.agent_search

    @extend_schema(
        summary="Ranked full-text search over the catalog",
        parameters=[OpenApiParameter("q", str, required=True, description="What to look for; typos are tolerated.")],
    )
    def list(self, request):
        query = (request.query_params.get("q") or "").strip()
        if not query:
            raise ValidationError({"q": ["Say what to search for."]})
        if len(query) > 200:
            raise ValidationError({"q": ["At most 200 characters."]})
        paginator = self.paginator
        limit, offset = paginator.get_limit(request), paginator.get_offset(request)
        page, total = selectors.agent_search_page(
            user=request.user, query=query, columns=SEARCH_COLUMNS, limit=limit, offset=offset
        )
        snippets = selectors.search_snippets(agents=page, query=query)
        for hit in page:
            hit["snippet"] = snippets[hit["id"]]
        paginator.describe(request, count=total, limit=limit, offset=offset)
        return paginator.get_paginated_response(self.get_serializer(page, many=True).data)
