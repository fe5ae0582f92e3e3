"""Writes to the catalog: creating and editing agents, the review lifecycle, views, trending."""

import hashlib
import logging
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.forms.models import model_to_dict
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User
from accounts.services import creator_role_grant
from agenthub.errors import Conflict, InvalidInput, NotPermitted
from marketplace.choices import AgentStatus, ReviewDecision, Transport, VersionStatus
from marketplace.models import (
    RESERVED_SLUGS,
    REVIEWED_FIELDS,
    Agent,
    AgentPackage,
    AgentReview,
    AgentVersion,
    AgentView,
)
from marketplace.selectors import agent_manageable_by, trending_scores
from marketplace.validation import check_submission, zip_names

logger = logging.getLogger(__name__)

VIEW_DEDUPE_WINDOW = timedelta(minutes=30)
# Which status may move to which, and by what action. Anything else is a 409.
TRANSITIONS = {
    "submit": ({AgentStatus.DRAFT}, AgentStatus.SUBMITTED),
    "approve": ({AgentStatus.SUBMITTED}, AgentStatus.APPROVED),
    "reject": ({AgentStatus.SUBMITTED}, AgentStatus.REJECTED),
    "activate": ({AgentStatus.APPROVED, AgentStatus.INACTIVE}, AgentStatus.ACTIVE),
    "deactivate": ({AgentStatus.ACTIVE, AgentStatus.APPROVED}, AgentStatus.INACTIVE),
}


def _check_transition(agent: Agent, action: str) -> AgentStatus:
    sources, target = TRANSITIONS[action]
    if agent.status not in sources:
        allowed = ", ".join(sorted(sources))
        raise Conflict(
            f"Cannot {action} an agent that is {agent.status}; it must be {allowed}.", code="invalid_transition"
        )
    return target


def _require_manager(agent: Agent, user: User) -> None:
    if not agent_manageable_by(agent=agent, user=user):
        raise NotPermitted("Only the agent's creator or staff may do this.")


def _locked(agent: Agent) -> Agent:
    return Agent.objects.select_for_update().get(pk=agent.pk)


def _unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "agent"
    slug, n = base, 2
    while slug in RESERVED_SLUGS or Agent.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def agent_create(*, user: User, data: dict) -> Agent:
    """A new draft owned by `user`. `data` has been shape-checked by the caller's serializer."""
    data = dict(data)
    slug = data.pop("slug", None) or _unique_slug(data.get("name", ""))
    if Agent.objects.filter(slug=slug).exists():
        raise InvalidInput("That id is taken.", fields={"slug": [f"An agent with id {slug!r} already exists."]})
    data.setdefault("author", user.get_full_name())
    data.setdefault("email", user.email)
    agent = Agent(slug=slug, created_by=user, updated_by=user, status=AgentStatus.DRAFT, **data)
    if "dynamic_price" not in data:
        agent.dynamic_price = agent.price_per_use
    agent.save()
    return agent


@transaction.atomic
def agent_update(*, agent: Agent, user: User, data: dict) -> Agent:
    _require_manager(agent, user)
    agent = _locked(agent)
    if agent.status == AgentStatus.SUBMITTED:
        raise Conflict("The agent is under review; wait for the decision before editing.", code="under_review")
    if agent.status in (AgentStatus.APPROVED, AgentStatus.ACTIVE, AgentStatus.INACTIVE):
        changed = sorted(field for field in REVIEWED_FIELDS if field in data and data[field] != getattr(agent, field))
        if changed:
            raise Conflict(
                "These fields were approved in review and cannot change without a new review: "
                + ", ".join(changed) + ".",
                fields={field: ["Approved in review; cannot change while the agent is live."] for field in changed},
                code="reviewed_fields",
            )
    for field, value in data.items():
        setattr(agent, field, value)
    if agent.status == AgentStatus.REJECTED:
        agent.status = AgentStatus.DRAFT  # edited after a rejection: back to draft, ready to resubmit
    agent.updated_by = user
    agent.save()
    return agent


@transaction.atomic
def agent_delete(*, agent: Agent, user: User) -> str:
    """Delete an agent that never ran; an agent with history is deactivated and unlisted instead."""
    _require_manager(agent, user)
    agent = _locked(agent)
    if agent.total_executions or agent.jobs_completed or agent.total_hires:
        agent.status = AgentStatus.INACTIVE
        agent.is_public = False
        agent.updated_by = user
        agent.save(update_fields=["status", "is_public", "updated_by", "updated_at"])
        return "deactivated"
    agent.delete()
    return "deleted"


def agent_submit(*, agent: Agent, user: User) -> AgentVersion:
    """Validate and send to review. Failures are stored on the agent and raised, naming each field."""
    _require_manager(agent, user)
    _check_transition(agent, "submit")
    errors = check_submission(agent)
    if errors:
        Agent.objects.filter(pk=agent.pk).update(
            validation_errors=[{"field": field, "message": message} for field, messages in errors.items()
                               for message in messages],
            updated_at=timezone.now(),
        )
        raise InvalidInput("The agent cannot be submitted: " + ", ".join(errors) + ".", fields=errors)
    with transaction.atomic():
        agent = _locked(agent)
        _check_transition(agent, "submit")  # again, under the lock: a concurrent submit may have won
        version = agent_version_create(agent=agent, user=user)
        agent.status = AgentStatus.SUBMITTED
        agent.validation_errors = []
        agent.save(update_fields=["status", "validation_errors", "updated_at"])
    return version


def agent_version_create(
    *, agent: Agent, user: User, status: VersionStatus = VersionStatus.SUBMITTED
) -> AgentVersion:
    """Freeze what is submitted: the reviewed fields, and a snapshot of the whole agent."""
    snapshot = model_to_dict(agent, exclude=["search_vector", "current_version", "created_by", "updated_by"])
    return AgentVersion.objects.create(
        agent=agent,
        number=agent.version,
        status=status,
        submitted_by=user,
        snapshot={key: str(value) if isinstance(value, Decimal) else value for key, value in snapshot.items()},
        **{field: getattr(agent, field) for field in REVIEWED_FIELDS if field != "version"},
    )


def _decide(*, agent: Agent, reviewer: User, decision: str, reason: str) -> AgentReview:
    if not reviewer.has_perm("marketplace.review_agent"):
        raise NotPermitted("Only reviewers may approve or reject agents.")
    if agent.created_by_id == reviewer.pk:
        raise NotPermitted("Nobody may review their own agent.")
    with transaction.atomic():
        agent = _locked(agent)
        action = "approve" if decision == ReviewDecision.APPROVED else "reject"
        target = _check_transition(agent, action)
        version = agent.versions.filter(status=VersionStatus.SUBMITTED).order_by("-created_at").first()
        if version is None:
            raise Conflict("There is no submitted version to review.", code="invalid_transition")
        version.status = VersionStatus.APPROVED if action == "approve" else VersionStatus.REJECTED
        version.save(update_fields=["status"])
        review = AgentReview.objects.create(
            agent=agent, version=version, reviewer=reviewer, decision=decision, reason=reason
        )
        agent.status = target
        update = ["status", "updated_at"]
        if action == "approve":
            agent.current_version = version
            agent.is_public = True
            update += ["current_version", "is_public"]
        agent.save(update_fields=update)
        if action == "approve":  # publishing a first agent makes its author a creator
            creator_role_grant(user=agent.created_by)
    logger.info("agent reviewed", extra={"agent": agent.slug, "decision": decision, "reviewer": reviewer.username})
    return review


def agent_approve(*, agent: Agent, reviewer: User, reason: str = "") -> AgentReview:
    return _decide(agent=agent, reviewer=reviewer, decision=ReviewDecision.APPROVED, reason=reason)


def agent_reject(*, agent: Agent, reviewer: User, reason: str) -> AgentReview:
    if not (reason or "").strip():
        raise InvalidInput("A rejection needs a reason.", fields={"reason": ["Say why the agent is rejected."]})
    return _decide(agent=agent, reviewer=reviewer, decision=ReviewDecision.REJECTED, reason=reason.strip())


@transaction.atomic
def _set_live(*, agent: Agent, user: User, action: str) -> Agent:
    _require_manager(agent, user)
    agent = _locked(agent)
    agent.status = _check_transition(agent, action)
    agent.updated_by = user
    agent.save(update_fields=["status", "updated_by", "updated_at"])
    return agent


def agent_activate(*, agent: Agent, user: User) -> Agent:
    return _set_live(agent=agent, user=user, action="activate")


def agent_deactivate(*, agent: Agent, user: User) -> Agent:
    return _set_live(agent=agent, user=user, action="deactivate")


@transaction.atomic
def agent_view_record(*, agent: Agent, session_id: str, user: User | None = None) -> tuple[bool, int]:
    """Count a view once per session per agent per 30 minutes. Returns (counted, view count)."""
    now = timezone.now()
    # The row lock serialises concurrent views of one agent, so two requests of one
    # session cannot both see "no recent view" and both count.
    locked = Agent.objects.select_for_update().only("pk", "view_count").get(pk=agent.pk)
    recent = AgentView.objects.filter(
        agent=locked, session_id=session_id, viewed_at__gt=now - VIEW_DEDUPE_WINDOW
    ).exists()
    if recent:
        return False, locked.view_count
    AgentView.objects.create(agent=locked, session_id=session_id, user=user, viewed_at=now)
    Agent.objects.filter(pk=locked.pk).update(view_count=F("view_count") + 1)
    return True, locked.view_count + 1


def trending_scores_refresh(*, days: int = 7) -> int:
    """Store each agent's trending score (used to order the catalog). Returns agents updated."""
    scores = trending_scores(days=days)
    with transaction.atomic():
        Agent.objects.exclude(pk__in=scores).exclude(trending_score=0).update(trending_score=0)
        changed = [Agent(pk=pk, trending_score=score) for pk, score in scores.items()]
        Agent.objects.bulk_update(changed, ["trending_score"], batch_size=500)
    return len(scores)


MAX_PACKAGE_BYTES = 5 * 1024 * 1024


def agent_package_upload(*, agent: Agent, user: User, content: bytes, filename: str = "") -> AgentPackage:
    """Store a hosted agent's package and point the agent at it (its code hash becomes the zip's SHA-256).

    Like any edit of a reviewed field, a live agent cannot change its package without a new review.
    """
    _require_manager(agent, user)
    if len(content) > MAX_PACKAGE_BYTES:
        raise InvalidInput("The package is too large.", fields={"file": [f"At most {MAX_PACKAGE_BYTES} bytes."]})
    if not zip_names(content):
        raise InvalidInput("The package must be a zip file.", fields={"file": ["Not a zip file, or an empty one."]})
    sha256 = hashlib.sha256(content).hexdigest()
    with transaction.atomic():
        agent_update(agent=agent, user=user, data={"transport": Transport.HOSTED, "code_hash": sha256})
        package, _ = AgentPackage.objects.get_or_create(
            agent=agent, sha256=sha256,
            defaults={"content": content, "size": len(content), "filename": filename[:255], "uploaded_by": user},
        )
    return package
