"""Hirings: a user engaging an agent with a config checked against the agent's JSON Schema."""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from accounts.models import User
from agenthub.errors import Conflict, InvalidInput
from billing import services as ledger
from marketplace.choices import LISTED_STATUSES, PricingModel
from marketplace.models import Agent, Hiring
from marketplace.validation import config_validator

SUBSCRIPTION_PERIOD = timedelta(days=30)


def config_problems(*, schema: dict, config) -> dict[str, list[str]]:
    """Each way `config` breaks `schema`, keyed by the JSON path of the value at fault."""
    if not schema:
        return {}
    problems: dict[str, list[str]] = {}
    for error in sorted(config_validator(schema).iter_errors(config), key=lambda e: list(e.absolute_path)):
        problems.setdefault(error.json_path, []).append(error.message)
    return problems


def hirable_agents() -> QuerySet[Agent]:
    return Agent.objects.filter(status__in=LISTED_STATUSES)


@transaction.atomic
def hiring_create(*, user: User, agent: Agent, config: dict | None = None, billing_cycle: str = "") -> Hiring:
    if agent.status not in LISTED_STATUSES:
        raise Conflict(f"The agent is {agent.status}; only approved or active agents can be hired.",
                       code="agent_not_available")
    config = {} if config is None else config
    if not isinstance(config, dict):
        raise InvalidInput("The config must be a JSON object.", fields={"config": ["Expected a JSON object."]})
    problems = config_problems(schema=agent.config_schema, config=config)
    if problems:
        raise InvalidInput(
            "The config does not match the agent's config schema.",
            fields={f"config{path[1:]}": messages for path, messages in problems.items()},
        )
    subscription = agent.pricing_model == PricingModel.SUBSCRIPTION
    cycle = billing_cycle or (Hiring.BillingCycle.MONTHLY if subscription else Hiring.BillingCycle.PER_USE)
    if subscription and cycle != Hiring.BillingCycle.MONTHLY:
        raise InvalidInput("A subscription agent is hired monthly.", fields={"billing_cycle": ["Must be monthly."]})
    now = timezone.now()
    renews = cycle == Hiring.BillingCycle.MONTHLY
    try:
        with transaction.atomic():
            hiring = Hiring.objects.create(
                user=user, agent=agent, config=config, billing_cycle=cycle,
                expires_at=now + SUBSCRIPTION_PERIOD if renews else None,
                next_billing_date=now + SUBSCRIPTION_PERIOD if renews else None,
            )
    except IntegrityError:
        raise Conflict("You already have an active hiring of this agent.", code="already_hired") from None
    if subscription:  # the first month is paid as the hiring starts (402 undoes the hiring)
        ledger.subscription_charge(hiring=hiring, period=f"{now:%Y-%m-%d}")
    Agent.objects.filter(pk=agent.pk).update(total_hires=F("total_hires") + 1)
    return hiring


def hiring_cancel(*, hiring: Hiring) -> Hiring:
    updated = Hiring.objects.filter(pk=hiring.pk, status=Hiring.Status.ACTIVE).update(
        status=Hiring.Status.CANCELLED, cancelled_at=timezone.now(), updated_at=timezone.now()
    )
    hiring.refresh_from_db()
    if not updated:
        raise Conflict(f"The hiring is {hiring.status}; only an active hiring can be cancelled.",
                       code="invalid_transition")
    return hiring


def hirings_renew(*, now=None) -> dict:
    """Charge the next month of every subscription hiring that is due; suspend those that cannot pay."""
    now = now or timezone.now()
    renewed = suspended = 0
    due = Hiring.objects.filter(status=Hiring.Status.ACTIVE, billing_cycle=Hiring.BillingCycle.MONTHLY,
                                next_billing_date__lte=now).select_related("agent", "user")
    for hiring in due:
        try:
            with transaction.atomic():
                ledger.subscription_charge(hiring=hiring, period=f"{hiring.next_billing_date:%Y-%m-%d}")
                Hiring.objects.filter(pk=hiring.pk, next_billing_date=hiring.next_billing_date).update(
                    next_billing_date=hiring.next_billing_date + SUBSCRIPTION_PERIOD,
                    expires_at=hiring.next_billing_date + SUBSCRIPTION_PERIOD, updated_at=now,
                )
            renewed += 1
        except ledger.PaymentRequired:
            Hiring.objects.filter(pk=hiring.pk, status=Hiring.Status.ACTIVE).update(
                status=Hiring.Status.SUSPENDED, updated_at=now
            )
            suspended += 1
    return {"renewed": renewed, "suspended": suspended}


def hirings_expire(*, now=None) -> int:
    """Mark active hirings past their expiry as expired (the periodic job). Returns how many.

    Subscriptions are renewed first, so only those that were neither renewed nor suspended expire.
    """
    now = now or timezone.now()
    hirings_renew(now=now)
    return Hiring.objects.filter(status=Hiring.Status.ACTIVE, expires_at__lte=now).update(
        status=Hiring.Status.EXPIRED, updated_at=now
    )


def hiring_usable(*, hiring: Hiring, agent: Agent) -> Hiring:
    """Check that `hiring` (the caller's own) can run `agent` now."""
    if hiring.agent_id != agent.pk:
        raise InvalidInput("That hiring is for another agent.", fields={"hiring_id": ["Hiring of another agent."]})
    if hiring.status != Hiring.Status.ACTIVE or (hiring.expires_at and hiring.expires_at <= timezone.now()):
        raise Conflict(f"The hiring is {hiring.status}; it cannot run the agent.", code="hiring_not_active")
    return hiring
