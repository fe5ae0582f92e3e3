import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from marketplace.choices import AgentStatus, PricingModel, ReviewDecision, Transport, VersionStatus

MONEY = {"max_digits": 12, "decimal_places": 4, "default": Decimal("0")}

# The fields a reviewer signs off on: they are copied into an AgentVersion at submission,
# and an approved agent cannot change them without going through review again.
REVIEWED_FIELDS = (
    "version", "transport", "endpoint_url", "entry_point", "requirements", "config_schema",
    "code_hash", "pricing_model", "price_per_use", "monthly_price",
)

# Words in /api/agents/<word> that are routes, not agents.
RESERVED_SLUGS = frozenset({"register", "new", "search"})


class Agent(models.Model):
    """An agent in the catalog: seed 000's catalog fields, seed 002's technical fields, seed 004's market fields."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=80, unique=True, help_text="The public id, e.g. `summarizer`.")
    name = models.CharField(max_length=255)
    short_description = models.CharField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    business_domain = models.CharField(max_length=100, blank=True, db_index=True)

    # Seed 000: what the agent is for, in business terms.
    problem_statement = models.TextField(blank=True)
    goals = models.JSONField(default=list, blank=True)
    in_scope = models.JSONField(default=list, blank=True)
    out_of_scope = models.JSONField(default=list, blank=True)
    operational_details = models.TextField(blank=True)
    inputs = models.JSONField(default=list, blank=True)
    outputs = models.JSONField(default=list, blank=True)
    tools = models.JSONField(default=list, blank=True, help_text="[{name, description}]")
    security_controls = models.JSONField(default=list, blank=True)
    kpis = models.JSONField(default=list, blank=True, help_text="[{name, target, current}]")
    personas = models.JSONField(default=list, blank=True)
    owner = models.CharField(max_length=255, blank=True, help_text="The team or person accountable for it.")

    # Seed 002: how it is built and sold.
    version = models.CharField(max_length=50, default="1.0.0")
    author = models.CharField(max_length=255, blank=True)
    email = models.EmailField(blank=True)
    transport = models.CharField(max_length=10, choices=Transport.choices, default=Transport.HTTP)
    entry_point = models.CharField(max_length=255, blank=True)
    requirements = models.JSONField(default=list, blank=True)
    config_schema = models.JSONField(default=dict, blank=True)
    code_hash = models.CharField(max_length=64, blank=True)
    protocol_version = models.CharField(
        max_length=20, blank=True, help_text="A2A agents: the protocol version their Agent Card declares."
    )
    tags = models.JSONField(default=list, blank=True)
    pricing_model = models.CharField(max_length=20, choices=PricingModel.choices, default=PricingModel.FREE)
    price_per_use = models.DecimalField(**MONEY)
    monthly_price = models.DecimalField(**MONEY)
    status = models.CharField(max_length=20, choices=AgentStatus.choices, default=AgentStatus.DRAFT, db_index=True)
    is_public = models.BooleanField(default=False)
    validation_errors = models.JSONField(default=list, blank=True)
    total_hires = models.PositiveIntegerField(default=0)
    total_executions = models.PositiveIntegerField(default=0)

    # Seed 004: how it does in the market.
    skills = models.JSONField(default=list, blank=True)
    capabilities = models.JSONField(default=list, blank=True)
    dynamic_price = models.DecimalField(**MONEY)
    load = models.FloatField(default=0, validators=[MinValueValidator(0), MaxValueValidator(1)])
    rating = models.FloatField(default=0, validators=[MinValueValidator(0), MaxValueValidator(5)])
    rating_count = models.PositiveIntegerField(default=0)
    jobs_completed = models.PositiveIntegerField(default=0)
    endpoint_url = models.URLField(max_length=500, blank=True)
    avg_response_time = models.PositiveIntegerField(default=0, help_text="Milliseconds.")
    availability = models.BooleanField(default=True)
    jobs_failed = models.PositiveIntegerField(default=0, help_text="Runs that ended failed or timed out.")
    health_failures = models.PositiveSmallIntegerField(default=0, help_text="Consecutive failed health checks.")
    health_checked_at = models.DateTimeField(null=True, blank=True)

    # Analytics, kept up to date by services and a periodic job.
    view_count = models.PositiveIntegerField(default=0)
    trending_score = models.FloatField(default=0, db_index=True)

    current_version = models.ForeignKey(
        "AgentVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The approved version that runs.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="agents")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    # PostgreSQL keeps this column current with a trigger (see the migrations); unused on SQLite.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("review_agent", "Can approve or reject agent submissions")]
        indexes = [
            models.Index(fields=["status", "is_public", "-created_at"], name="agent_listed_created_idx"),
            models.Index(fields=["-trending_score"], name="agent_trending_idx"),
            # The public catalog's default page and its COUNT(*) read only this index.
            models.Index(
                fields=["-created_at", "id"], name="agent_listed_newest_idx",
                condition=Q(is_public=True, status__in=["approved", "active"]),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(rating__gte=0, rating__lte=5), name="agent_rating_0_5"),
            models.CheckConstraint(condition=Q(load__gte=0, load__lte=1), name="agent_load_0_1"),
            models.CheckConstraint(
                condition=Q(price_per_use__gte=0, monthly_price__gte=0, dynamic_price__gte=0),
                name="agent_prices_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_listed(self) -> bool:
        return self.is_public and self.status in (AgentStatus.APPROVED, AgentStatus.ACTIVE)

    @property
    def success_rate(self) -> float | None:
        """Completed runs over finished runs (cancelled ones aside); None before the first."""
        finished = self.jobs_completed + self.jobs_failed
        return round(self.jobs_completed / finished, 4) if finished else None


class AgentVersion(models.Model):
    """What a creator submitted for review, frozen: the reviewed fields and a snapshot of the rest."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="versions")
    number = models.CharField(max_length=50)
    status = models.CharField(max_length=20, choices=VersionStatus.choices, default=VersionStatus.SUBMITTED)
    transport = models.CharField(max_length=10, choices=Transport.choices)
    endpoint_url = models.URLField(max_length=500, blank=True)
    entry_point = models.CharField(max_length=255, blank=True)
    requirements = models.JSONField(default=list, blank=True)
    config_schema = models.JSONField(default=dict, blank=True)
    code_hash = models.CharField(max_length=64, blank=True)
    pricing_model = models.CharField(max_length=20, choices=PricingModel.choices)
    price_per_use = models.DecimalField(**MONEY)
    monthly_price = models.DecimalField(**MONEY)
    snapshot = models.JSONField(default=dict, help_text="The whole agent as submitted.")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.agent.slug} {self.number}"


class AgentReview(models.Model):
    """A reviewer's decision on a submitted version: who, when, why."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="reviews_made")
    version = models.OneToOneField(AgentVersion, on_delete=models.CASCADE, related_name="review")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10, choices=ReviewDecision.choices)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(decision=ReviewDecision.REJECTED) | ~Q(reason=""), name="review_rejection_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.decision} {self.version}"


class AgentView(models.Model):
    """One counted view of an agent's page (seed 000's agent_views)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="views")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    session_id = models.CharField(max_length=64)
    viewed_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-viewed_at"]
        indexes = [models.Index(fields=["agent", "session_id", "-viewed_at"], name="agentview_dedupe_idx")]

    def __str__(self) -> str:
        return f"{self.agent_id} @ {self.viewed_at:%Y-%m-%d %H:%M}"


class AgentPackage(models.Model):
    """An uploaded Python package (zip) of a hosted agent, kept in the database so every worker can run it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="packages")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    filename = models.CharField(max_length=255, blank=True)
    content = models.BinaryField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["agent", "sha256"], name="agentpackage_agent_sha256_uniq")]

    def __str__(self) -> str:
        return f"{self.agent_id} {self.sha256[:12]}"


class Hiring(models.Model):
    """A user's engagement of an agent (seed 002's hirings), with the config they run it with."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"
        SUSPENDED = "suspended", "Suspended"

    class BillingCycle(models.TextChoices):
        PER_USE = "per_use", "Per use"
        MONTHLY = "monthly", "Monthly"
        LIFETIME = "lifetime", "Lifetime"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="hirings")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hirings")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    hired_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty for a hiring that does not expire.")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    config = models.JSONField(default=dict, blank=True)
    billing_cycle = models.CharField(max_length=20, choices=BillingCycle.choices, default=BillingCycle.PER_USE)
    next_billing_date = models.DateTimeField(null=True, blank=True)
    total_executions = models.PositiveIntegerField(default=0)
    last_executed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-hired_at"]
        indexes = [
            models.Index(fields=["user", "-hired_at"], name="hiring_user_idx"),
            models.Index(fields=["status", "expires_at"], name="hiring_expiry_idx"),
        ]
        constraints = [
            # One live engagement per user and agent: hiring again while active is a 409.
            models.UniqueConstraint(
                fields=["user", "agent"], condition=Q(status="active"), name="hiring_one_active_per_agent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} hires {self.agent_id} ({self.status})"
