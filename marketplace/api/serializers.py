from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agenthub.api.serializers import PlannedRepresentation
from marketplace.choices import Transport
from marketplace.models import RESERVED_SLUGS, Agent, AgentReview


def string_list(**kwargs) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(max_length=1000), required=False, max_length=100, **kwargs)


class ToolSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=2000, allow_blank=True, required=False, default="")


class KpiSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    target = serializers.CharField(max_length=200)
    current = serializers.CharField(max_length=200, allow_blank=True, allow_null=True, required=False)


class ReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username")
    version = serializers.CharField(source="version.number")

    class Meta:
        model = AgentReview
        fields = ["decision", "reason", "reviewer", "version", "created_at"]


SUMMARY_FIELDS = [
    # seed 004's Agent, as the React UI reads it
    "id", "name", "description", "skills", "base_price", "dynamic_price", "load", "rating", "jobs_completed",
    "endpoint_url", "capabilities", "avg_response_time", "availability",
    # what a catalog card and a program choosing an agent need besides
    "short_description", "business_domain", "category", "tags", "status", "is_public", "version", "owner",
    "transport", "pricing_model", "price_per_use", "monthly_price", "average_rating", "rating_count", "view_count",
    "total_hires", "total_executions", "trending_score", "created_by", "created_at", "updated_at",
]
# The long-form catalog detail (seed 000) and the technical configuration (seed 002).
DETAIL_FIELDS = [
    "problem_statement", "goals", "in_scope", "out_of_scope", "operational_details", "inputs", "outputs", "tools",
    "security_controls", "kpis", "personas", "author", "email", "entry_point", "requirements", "config_schema",
    "code_hash", "validation_errors",
]


class AgentSummarySerializer(PlannedRepresentation, serializers.ModelSerializer):
    """An agent in a list: seed 004's fields and the scalar catalog fields; no long-form detail."""

    id = serializers.SlugField(source="slug", read_only=True)
    base_price = serializers.DecimalField(source="price_per_use", max_digits=12, decimal_places=4, read_only=True)
    category = serializers.CharField(source="business_domain", read_only=True)
    average_rating = serializers.FloatField(source="rating", read_only=True)
    created_by = serializers.CharField(source="creator_username", read_only=True)

    class Meta:
        model = Agent
        fields = SUMMARY_FIELDS
        read_only_fields = fields


class AgentSerializer(AgentSummarySerializer):
    """An agent with every field: seed 004's, seed 000's catalog detail and seed 002's technical fields."""

    class Meta(AgentSummarySerializer.Meta):
        fields = [*SUMMARY_FIELDS, *DETAIL_FIELDS]
        read_only_fields = fields


class AgentDetailSerializer(AgentSerializer):
    """The full agent and its review decisions, for its managers and reviewers."""

    reviews = serializers.SerializerMethodField()

    class Meta(AgentSerializer.Meta):
        fields = [*AgentSerializer.Meta.fields, "reviews"]
        read_only_fields = fields

    @extend_schema_field(ReviewSerializer(many=True))
    def get_reviews(self, agent) -> list:
        return ReviewSerializer(agent.reviews_made.select_related("reviewer", "version"), many=True).data


class AgentWriteSerializer(serializers.ModelSerializer):
    """What a creator may set. Shapes are checked here; submission rules live in the validation module."""

    slug = serializers.SlugField(max_length=80, required=False, help_text="The public id; from the name if omitted.")
    goals = string_list()
    in_scope = string_list()
    out_of_scope = string_list()
    inputs = string_list()
    outputs = string_list()
    security_controls = string_list()
    personas = string_list()
    requirements = string_list()
    tags = serializers.ListField(child=serializers.SlugField(max_length=50), required=False, max_length=30)
    skills = serializers.ListField(child=serializers.CharField(max_length=80), required=False, max_length=50)
    capabilities = string_list()
    tools = ToolSerializer(many=True, required=False)
    kpis = KpiSerializer(many=True, required=False)
    config_schema = serializers.JSONField(required=False)
    transport = serializers.ChoiceField(choices=Transport.choices, required=False)
    price_per_use = serializers.DecimalField(max_digits=12, decimal_places=4, min_value=0, required=False)
    monthly_price = serializers.DecimalField(max_digits=12, decimal_places=4, min_value=0, required=False)

    class Meta:
        model = Agent
        fields = [
            "slug", "name", "short_description", "description", "business_domain", "problem_statement", "goals",
            "in_scope", "out_of_scope", "operational_details", "inputs", "outputs", "tools", "security_controls",
            "kpis", "personas", "owner", "version", "author", "email", "transport", "entry_point", "requirements",
            "config_schema", "code_hash", "tags", "pricing_model", "price_per_use", "monthly_price", "is_public",
            "skills", "capabilities", "endpoint_url",
        ]

    def validate_config_schema(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object (a JSON Schema).")
        return value

    def validate_slug(self, value):
        if self.instance is not None and value != self.instance.slug:
            raise serializers.ValidationError("The id of an existing agent cannot change.")
        if value in RESERVED_SLUGS:
            raise serializers.ValidationError(f"{value!r} is reserved; choose another id.")
        return value


class ReviewDecisionInput(serializers.Serializer):
    reason = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class PackageUpload(serializers.Serializer):
    file = serializers.FileField(help_text="A zip holding the entry point's module, e.g. main.py.")


class ViewInput(serializers.Serializer):
    session_id = serializers.CharField(max_length=64, required=False, help_text="Defaults to the session cookie.")


class AgentSearchHitSerializer(PlannedRepresentation, serializers.ModelSerializer):
    """A search hit: the agent's card fields, its score and an HTML snippet (escaped, <mark>ed)."""

    id = serializers.SlugField(source="slug")
    base_price = serializers.DecimalField(source="price_per_use", max_digits=12, decimal_places=4)
    score = serializers.FloatField()
    snippet = serializers.CharField()

    class Meta:
        model = Agent
        fields = [
            "id", "name", "short_description", "business_domain", "skills", "tags", "base_price", "pricing_model",
            "rating", "availability", "status", "score", "snippet",
        ]


def _model_columns(serializer_class) -> tuple[str, ...]:
    fields = serializer_class().fields.values()
    model_fields = {field.name for field in Agent._meta.concrete_fields}
    return tuple(sorted({field.source for field in fields} & model_fields))


# What a list or search page reads from the table.
SUMMARY_COLUMNS = _model_columns(AgentSummarySerializer)
SEARCH_COLUMNS = (*_model_columns(AgentSearchHitSerializer), "description")  # description: for the snippet
