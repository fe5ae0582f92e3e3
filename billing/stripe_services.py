"""Card money in and out of wallets: top-ups, Stripe's webhook, credit plans, reconciliation.

A top-up records a pending StripePayment (what was asked: BB, cents, currency) before it asks
Stripe for a Checkout Session or a PaymentIntent, and tags Stripe's objects with the payment's id.
Only Stripe's signed webhook (or the reconciliation job, reading Stripe itself) credits the
wallet, never a browser coming back.

At most once per payment: the three events that say one payment succeeded
(`checkout.session.completed`, `payment_intent.succeeded`, `charge.succeeded`), delivered in any
order, any number of times, at once or not, all end in `wallet_credit` with the ledger reference
`stripe:<PaymentIntent id>`, whose uniqueness the database enforces. Before it, the payment's row
is locked (`select_for_update`), so concurrent deliveries queue on it, and the credit and the
payment's `credited_at` are written in one transaction with the event's id (unique too): a
handler that fails halfway leaves nothing, and Stripe's retry starts again from scratch.

Anything in an event that disagrees with what was created (amount, currency, the Checkout mode,
the PaymentIntent or session, the user) credits nothing and writes one security warning.
"""

import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from agenthub.errors import Conflict, DomainError, InvalidInput
from billing import stripe_gateway as gateway
from billing.models import (
    CreditPlan,
    CreditPlanSubscription,
    EntryKind,
    LedgerTransaction,
    StripeCustomer,
    StripeEvent,
    StripePayment,
)
from billing.services import money, wallet_credit, wallet_debit_external

logger = logging.getLogger(__name__)

WEBHOOK_TOLERANCE_SECONDS = 300
PRODUCT_NAME = "AgentHub BazaarBucks"
WALLET_PATH = "/wallet"
SIMULATED_MEMO = "SIMULATED top-up (development only, no card was charged)"


class Mode:
    CHECKOUT = "checkout"  # a Stripe-hosted payment page (the wallet page)
    PAYMENT_INTENT = "payment_intent"  # a client secret for Stripe.js or a mobile SDK (API clients)
    ALL = (CHECKOUT, PAYMENT_INTENT)


class WebhookNotConfigured(DomainError):
    """503: without STRIPE_WEBHOOK_SECRET no event can be verified; Stripe retries until it is set."""

    status_code = 503
    code = "stripe_not_configured"


def credit_reference(payment_intent: str) -> str:
    """The ledger reference of a card payment's credit: one per PaymentIntent, whoever credits it."""
    return f"stripe:{payment_intent}"


# --- Customers -------------------------------------------------------------------------------------


def stripe_customer_for(*, user: User) -> str:
    """The user's Stripe customer id, created at Stripe the first time."""
    if existing := StripeCustomer.objects.filter(user=user).first():
        return existing.customer_id
    customer = gateway.customer_create(
        email=user.email, name=user.full_name or user.username, metadata={"user": str(user.pk)},
        idempotency_key=f"customer:{user.pk}",  # two first payments at once: one customer
    )
    try:
        with transaction.atomic():
            StripeCustomer.objects.create(user=user, customer_id=customer["id"])
    except IntegrityError:
        return StripeCustomer.objects.get(user=user).customer_id
    return customer["id"]


# --- Top-ups -------------------------------------------------------------------------------------------


@dataclass
class TopUp:
    payment: StripePayment
    checkout_url: str | None = None
    client_secret: str | None = None


def topup_amount_check(amount) -> tuple[Decimal, int]:
    """(the amount in BB, in cents): whole cents within TOP_UP_MIN..TOP_UP_MAX, else 400."""
    try:
        amount = Decimal(str(amount))
    except ArithmeticError:
        raise InvalidInput("The amount is not a number.", fields={"amount": ["A number of BB."]}) from None
    cents = gateway.bb_to_cents(amount)
    low, high = settings.TOP_UP_MIN, settings.TOP_UP_MAX
    if not low <= amount <= high:
        raise InvalidInput(f"A top-up is between {low} and {high} BB.",
                           fields={"amount": [f"Must be between {low} and {high}."]})
    return gateway.cents_to_bb(cents), cents


def _wallet_url(query: str) -> str:
    return f"{settings.SITE_URL}{WALLET_PATH}?{query}"


def topup_create(*, user: User, amount, mode: str = Mode.PAYMENT_INTENT, success_url: str | None = None,
                 cancel_url: str | None = None) -> TopUp:
    """Ask Stripe for a card payment of `amount` BB: a Checkout Session (its URL) or a PaymentIntent
    (its client secret). Nothing is credited here: the webhook does that once Stripe says it is paid.

    Not inside a transaction on purpose: the pending payment row is committed before Stripe is
    asked, so an event that arrives before this function returns finds it.
    """
    if mode not in Mode.ALL:
        raise InvalidInput(f"Unknown mode {mode!r}.", fields={"mode": [f"One of: {', '.join(Mode.ALL)}."]})
    amount, cents = topup_amount_check(amount)
    if not gateway.is_configured():
        raise gateway.StripeNotConfigured()
    customer = stripe_customer_for(user=user)
    payment = StripePayment.objects.create(
        user=user, type=StripePayment.Type.BALANCE_LOAD, amount=amount, amount_cents=cents,
        currency=gateway.CURRENCY, vendor="stripe",
    )
    metadata = {"stripe_payment": str(payment.pk), "user": str(user.pk), "purpose": "top_up", "mode": mode}
    try:
        if mode == Mode.CHECKOUT:
            session = gateway.checkout_session_create(
                amount_cents=cents, product_name=f"{PRODUCT_NAME}: {amount} BB", customer=customer,
                success_url=success_url or _wallet_url(f"topUp={payment.pk}&session={{CHECKOUT_SESSION_ID}}"),
                cancel_url=cancel_url or _wallet_url(f"topUp={payment.pk}&cancelled=1"),
                metadata=metadata, idempotency_key=f"top-up:{payment.pk}",
            )
            _payment_link(payment, session=session["id"], intent=session.get("payment_intent"))
            return TopUp(payment=payment, checkout_url=session["url"])
        intent = gateway.payment_intent_create(amount_cents=cents, customer=customer, metadata=metadata,
                                               idempotency_key=f"top-up:{payment.pk}")
        _payment_link(payment, intent=intent["id"])
        return TopUp(payment=payment, client_secret=intent["client_secret"])
    except gateway.StripeUnavailable:
        StripePayment.objects.filter(pk=payment.pk, credited_at__isnull=True).update(
            status=StripePayment.Status.FAILED, updated_at=timezone.now())
        raise


def _payment_link(payment: StripePayment, *, session: str | None = None, intent: str | None = None) -> None:
    """Record Stripe's ids on the payment, unless an event already did (an UPDATE, not a save:
    a webhook may have credited the row meanwhile)."""
    if session:
        StripePayment.objects.filter(pk=payment.pk, stripe_checkout_session__isnull=True).update(
            stripe_checkout_session=session)
        payment.stripe_checkout_session = session
    if intent and isinstance(intent, str):
        StripePayment.objects.filter(pk=payment.pk, stripe_payment_intent__isnull=True).update(
            stripe_payment_intent=intent)
        payment.stripe_payment_intent = intent


def simulation_available() -> bool:
    """The development stand-in for card top-ups: only with DEBUG on and no Stripe key."""
    return bool(settings.DEBUG) and not gateway.is_configured()


def topup_simulate(*, user: User, amount) -> LedgerTransaction:
    """Credit the wallet as a paid top-up would, through the same ledger service, clearly labelled."""
    if not simulation_available():
        raise Conflict("Simulated top-ups exist only in development (DEBUG on, no Stripe key).",
                       code="simulation_unavailable")
    amount, _ = topup_amount_check(amount)
    posted, _ = wallet_credit(user=user, amount=amount, reference=f"simulated-top-up:{uuid.uuid4()}",
                              memo=SIMULATED_MEMO)
    return posted


# --- Reading ---------------------------------------------------------------------------------------------


def stripe_payment_list(*, user: User) -> QuerySet[StripePayment]:
    return StripePayment.objects.filter(user=user).select_related("agent")


def credit_plan_list() -> QuerySet[CreditPlan]:
    return CreditPlan.objects.filter(active=True)


def credit_plan_subscription_list(*, user: User) -> QuerySet[CreditPlanSubscription]:
    return CreditPlanSubscription.objects.filter(user=user).select_related("plan")


# --- The webhook -------------------------------------------------------------------------------------


def webhook_receive(*, payload: bytes, signature: str | None) -> str:
    """Verify and handle one delivery; returns what handling did. Raises WebhookSignatureInvalid
    (400), WebhookNotConfigured (503); any other exception means nothing was written (answer 5xx)."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise WebhookNotConfigured("Stripe webhooks are not configured on this server (no signing secret).")
    event = gateway.event_verify(payload=payload, signature=signature, secret=secret,
                                 tolerance=WEBHOOK_TOLERANCE_SECONDS)
    return event_handle(event=event)


def event_handle(*, event: dict) -> str:
    """Apply one verified event, once per event id, in one transaction with its effect."""
    handler = HANDLERS.get(event.get("type", ""))
    event_id = event.get("id")
    if handler is None or not event_id:
        return "ignored"
    obj = (event.get("data") or {}).get("object") or {}
    with transaction.atomic():
        try:
            with transaction.atomic():
                # Unique: a second delivery waits here for the first to commit, then finds it.
                StripeEvent.objects.create(id=event_id, type=event["type"], outcome="")
        except IntegrityError:
            return "duplicate"
        outcome = handler(obj, event["type"])
        StripeEvent.objects.filter(pk=event_id).update(outcome=outcome[:40])
    return outcome


def _security_warning(event_type: str, subject, problems: list[str]) -> None:
    # One line, ids and amounts only: never a secret, a card or the raw event.
    logger.warning("security: stripe %s for %s disagrees with what was created, not credited: %s",
                   event_type, subject, "; ".join(problems))


def _payment_locked(*, metadata: dict | None, intent: str | None = None,
                    session: str | None = None) -> StripePayment | None:
    """The payment an event is about, locked: by the id we tagged Stripe's object with, else by Stripe's ids."""
    payments = StripePayment.objects.select_for_update()
    tagged = (metadata or {}).get("stripe_payment")
    if tagged:
        try:
            return payments.filter(pk=uuid.UUID(str(tagged))).first()
        except ValueError:
            return None
    if intent:
        return payments.filter(stripe_payment_intent=intent).first()
    if session:
        return payments.filter(stripe_checkout_session=session).first()
    return None


def _credit_top_up(*, payment: StripePayment, intent: str | None, amount_cents, currency, event_type: str,
                   metadata: dict | None, session: str | None = None, checkout_mode: str | None = None) -> str:
    """Credit a locked balance_load payment that Stripe says is paid, unless anything disagrees."""
    problems = []
    if payment.type != StripePayment.Type.BALANCE_LOAD:
        problems.append(f"payment type {payment.type}")
    if amount_cents != payment.amount_cents:
        problems.append(f"amount {amount_cents} cents, created {payment.amount_cents}")
    if (currency or "").lower() != payment.currency:
        problems.append(f"currency {currency}, created {payment.currency}")
    if metadata and metadata.get("user") and metadata["user"] != str(payment.user_id):
        problems.append("another user")
    if intent and payment.stripe_payment_intent and intent != payment.stripe_payment_intent:
        problems.append(f"payment intent {intent}, created {payment.stripe_payment_intent}")
    if session is not None:
        if checkout_mode != "payment":
            problems.append(f"checkout mode {checkout_mode}")
        if payment.stripe_checkout_session and session != payment.stripe_checkout_session:
            problems.append(f"checkout session {session}, created {payment.stripe_checkout_session}")
        if metadata and metadata.get("mode") and metadata["mode"] != Mode.CHECKOUT:
            problems.append(f"created as {metadata['mode']}")
    if problems:
        _security_warning(event_type, f"payment {payment.pk}", problems)
        return "mismatch"
    if payment.credited_at:
        return "already_credited"
    if not intent:
        return "no_payment_intent"  # a Checkout Session always has one once paid; its PI event will credit
    _, created = wallet_credit(user=payment.user, amount=payment.amount, reference=credit_reference(intent),
                               kind=EntryKind.TOP_UP, memo=f"Card top-up ({intent})")
    _payment_mark_credited(payment=payment, intent=intent, session=session)
    return "credited" if created else "already_credited"


def _payment_mark_credited(*, payment: StripePayment, intent: str, session: str | None) -> None:
    now = timezone.now()
    changes: dict[str, Any] = {"credited_at": now, "updated_at": now}
    if payment.status in (StripePayment.Status.PENDING, StripePayment.Status.FAILED):
        changes["status"] = StripePayment.Status.SUCCEEDED  # a refund that came first keeps its status
    if not payment.stripe_payment_intent:
        changes["stripe_payment_intent"] = intent
    if session and not payment.stripe_checkout_session:
        changes["stripe_checkout_session"] = session
    StripePayment.objects.filter(pk=payment.pk).update(**changes)


def _on_checkout_session_paid(session: dict, event_type: str) -> str:
    if (session.get("metadata") or {}).get("purpose") == "credit_plan":
        return _subscription_from_checkout(session)
    payment = _payment_locked(metadata=session.get("metadata"), session=session.get("id"))
    if payment is None:
        return "unknown_payment"
    if session.get("payment_status") != "paid":
        return "not_paid"  # a delayed payment method: checkout.session.async_payment_succeeded follows
    return _credit_top_up(
        payment=payment, intent=_id(session.get("payment_intent")), amount_cents=session.get("amount_total"),
        currency=session.get("currency"), event_type=event_type, metadata=session.get("metadata"),
        session=session.get("id"), checkout_mode=session.get("mode"),
    )


def _on_payment_intent_succeeded(intent: dict, event_type: str) -> str:
    payment = _payment_locked(metadata=intent.get("metadata"), intent=intent.get("id"))
    if payment is None:
        return "unknown_payment"  # e.g. a credit plan's invoice: its invoice event loads the BB
    if intent.get("status") != "succeeded":
        return "not_paid"
    received = intent.get("amount_received", intent.get("amount"))
    return _credit_top_up(payment=payment, intent=intent.get("id"), amount_cents=received,
                          currency=intent.get("currency"), event_type=event_type, metadata=intent.get("metadata"))


def _on_charge_succeeded(charge: dict, event_type: str) -> str:
    intent = _id(charge.get("payment_intent"))
    payment = _payment_locked(metadata=charge.get("metadata"), intent=intent)
    if payment is None:
        return "unknown_payment"
    if charge.get("status") != "succeeded" or charge.get("paid") is False or charge.get("captured") is False:
        return "not_paid"
    return _credit_top_up(payment=payment, intent=intent, amount_cents=charge.get("amount"),
                          currency=charge.get("currency"), event_type=event_type, metadata=charge.get("metadata"))


def _on_payment_failed(obj: dict, event_type: str) -> str:
    """A PaymentIntent failed or was cancelled, or a Checkout Session expired or its payment failed."""
    if obj.get("object") == "checkout.session":
        payment = _payment_locked(metadata=obj.get("metadata"), session=obj.get("id"))
    else:
        payment = _payment_locked(metadata=obj.get("metadata"), intent=obj.get("id"))
    if payment is None:
        return "unknown_payment"
    # The user may try another card on the same PaymentIntent: failed is not final, a success still credits.
    StripePayment.objects.filter(pk=payment.pk, status=StripePayment.Status.PENDING).update(
        status=StripePayment.Status.FAILED, updated_at=timezone.now())
    return "failed"


def _id(value) -> str | None:
    """Stripe sends a related object as its id, or as the object itself when expanded."""
    if isinstance(value, dict):
        return value.get("id")
    return value or None


# --- Refunds and disputes: money goes back to the card, so it leaves the wallet -----------------------


def _payment_for_charge(charge: dict | str | None, intent: str | None) -> StripePayment | None:
    if not intent and charge:
        charge_obj = charge if isinstance(charge, dict) else gateway.charge_retrieve(charge)
        intent = _id(charge_obj.get("payment_intent"))
    if not intent:
        return None
    return StripePayment.objects.select_for_update().filter(stripe_payment_intent=intent).first()


def _bb_share(payment: StripePayment, cents: int) -> Decimal:
    """The BB that `cents` of this payment bought (a credit plan may load more BB than it costs)."""
    if payment.amount_cents == 0:
        return Decimal(0)
    return money(payment.amount * Decimal(int(cents)) / Decimal(payment.amount_cents))


REFUND_TAKEN = ("pending", "requires_action", "succeeded")


def _refund_apply(refund: dict, event_type: str, payment: StripePayment | None = None) -> str:
    payment = payment or _payment_for_charge(refund.get("charge"), _id(refund.get("payment_intent")))
    if payment is None:
        return "unknown_payment"
    if (refund.get("currency") or payment.currency).lower() != payment.currency:
        _security_warning(event_type, f"payment {payment.pk}", [f"refund currency {refund.get('currency')}"])
        return "mismatch"
    reference = f"stripe:refund:{refund['id']}"
    amount = _bb_share(payment, refund.get("amount") or 0)
    if refund.get("status") in REFUND_TAKEN and amount > 0:
        wallet_debit_external(user=payment.user, amount=amount, reference=reference, kind=EntryKind.CHARGEBACK,
                              memo=f"Card refund {refund['id']}")
        if refund.get("amount") == payment.amount_cents:
            StripePayment.objects.filter(pk=payment.pk).update(status=StripePayment.Status.REFUNDED,
                                                               updated_at=timezone.now())
        return "debited"
    taken = LedgerTransaction.objects.filter(reference=reference).exists()
    if refund.get("status") in ("failed", "canceled") and taken:
        wallet_credit(user=payment.user, amount=amount, reference=f"stripe:refund-reversed:{refund['id']}",
                      kind=EntryKind.CHARGEBACK, memo=f"Card refund {refund['id']} failed: given back")
        return "refund_reversed"
    return "nothing"


def _on_charge_refunded(charge: dict, event_type: str) -> str:
    payment = _payment_for_charge(charge, _id(charge.get("payment_intent")))
    if payment is None:
        return "unknown_payment"
    refunds = (charge.get("refunds") or {}).get("data")
    if refunds is None:  # not included in the event by recent API versions: ask Stripe
        refunds = gateway.refunds_for_charge(charge["id"])
    outcomes = [_refund_apply(refund, event_type, payment) for refund in refunds]
    if charge.get("refunded"):
        StripePayment.objects.filter(pk=payment.pk).update(status=StripePayment.Status.REFUNDED,
                                                           updated_at=timezone.now())
    return "debited" if "debited" in outcomes else (outcomes[0] if outcomes else "nothing")


def _on_refund(refund: dict, event_type: str) -> str:
    return _refund_apply(refund, event_type)


def _on_dispute_created(dispute: dict, event_type: str) -> str:
    payment = _payment_for_charge(dispute.get("charge"), _id(dispute.get("payment_intent")))
    if payment is None:
        return "unknown_payment"
    if (dispute.get("currency") or "").lower() != payment.currency:
        _security_warning(event_type, f"payment {payment.pk}", [f"dispute currency {dispute.get('currency')}"])
        return "mismatch"
    amount = _bb_share(payment, dispute.get("amount") or 0)
    if amount > 0:
        wallet_debit_external(user=payment.user, amount=amount, reference=f"stripe:dispute:{dispute['id']}",
                              kind=EntryKind.CHARGEBACK, memo=f"Card dispute {dispute['id']}")
    StripePayment.objects.filter(pk=payment.pk).update(status=StripePayment.Status.DISPUTED, updated_at=timezone.now())
    return "debited"


def _on_dispute_closed(dispute: dict, event_type: str) -> str:
    payment = _payment_for_charge(dispute.get("charge"), _id(dispute.get("payment_intent")))
    taken = LedgerTransaction.objects.filter(reference=f"stripe:dispute:{dispute['id']}").first()
    if payment is None or taken is None or dispute.get("status") != "won":
        return "nothing"
    # What was taken from the wallet comes back (and any debt it left is paid by the same credit).
    amount = _bb_share(payment, dispute.get("amount") or 0)
    wallet_credit(user=payment.user, amount=amount, reference=f"stripe:dispute-won:{dispute['id']}",
                  kind=EntryKind.CHARGEBACK, memo=f"Card dispute {dispute['id']} won")
    StripePayment.objects.filter(pk=payment.pk, status=StripePayment.Status.DISPUTED).update(
        status=StripePayment.Status.SUCCEEDED, updated_at=timezone.now())
    return "dispute_won"


# --- Credit plans -------------------------------------------------------------------------------------


SUBSCRIPTION_LIVE = (
    CreditPlanSubscription.Status.INCOMPLETE, CreditPlanSubscription.Status.TRIALING,
    CreditPlanSubscription.Status.ACTIVE, CreditPlanSubscription.Status.PAST_DUE,
)


@dataclass
class Subscribed:
    subscription: CreditPlanSubscription | None = None
    checkout_url: str | None = None


def credit_plan_sync(*, plan: CreditPlan) -> CreditPlan:
    """Give a plan its Stripe price (a monthly plan at Stripe) if it has none yet."""
    if not plan.stripe_price_id:
        created = gateway.plan_create(name=f"{PRODUCT_NAME}: {plan.name}", amount_cents=plan.price_cents,
                                      idempotency_key=f"credit-plan:{plan.pk}")
        CreditPlan.objects.filter(pk=plan.pk, stripe_price_id__isnull=True).update(stripe_price_id=created["id"])
        plan.refresh_from_db()
    return plan


def credit_plan_subscribe(*, user: User, plan: CreditPlan, payment_method: str | None = None,
                          success_url: str | None = None, cancel_url: str | None = None) -> Subscribed:
    """Subscribe with a card Stripe.js already collected (`payment_method`), or get a Checkout URL
    where the user gives one (the wallet page). BB are loaded by the paid invoice's webhook."""
    if not gateway.is_configured():
        raise gateway.StripeNotConfigured()
    if not plan.active or not plan.stripe_price_id:
        raise Conflict("This credit plan is not available.", code="plan_unavailable")
    if CreditPlanSubscription.objects.filter(user=user, plan=plan, status__in=SUBSCRIPTION_LIVE).exists():
        raise Conflict("You are subscribed to this plan already.", code="already_subscribed")
    customer = stripe_customer_for(user=user)
    metadata = {"user": str(user.pk), "credit_plan": str(plan.pk), "purpose": "credit_plan"}
    if payment_method:
        created = gateway.subscription_create(
            customer=customer, price_id=plan.stripe_price_id, payment_method=payment_method, metadata=metadata,
            idempotency_key=f"credit-plan:{user.pk}:{plan.pk}:{payment_method}",  # a double click: one subscription
        )
        with transaction.atomic():
            subscription = _subscription_record(stripe_id=created["id"], user=user, plan=plan)
            _subscription_status(subscription, created.get("status"))
        subscription.refresh_from_db()
        return Subscribed(subscription=subscription)
    session = gateway.subscription_checkout_session_create(
        price_id=plan.stripe_price_id, customer=customer, metadata=metadata,
        success_url=success_url or _wallet_url("plan=subscribed&session={CHECKOUT_SESSION_ID}"),
        cancel_url=cancel_url or _wallet_url("plan=cancelled"),
        idempotency_key=f"credit-plan-checkout:{user.pk}:{plan.pk}:{uuid.uuid4()}",
    )
    return Subscribed(checkout_url=session["url"])


def credit_plan_cancel(*, subscription: CreditPlanSubscription) -> CreditPlanSubscription:
    """Cancel at Stripe now (no further invoice); BB already loaded stay. Safe to call twice."""
    if subscription.status not in (CreditPlanSubscription.Status.CANCELED,
                                   CreditPlanSubscription.Status.INCOMPLETE_EXPIRED):
        gateway.subscription_cancel(subscription.stripe_subscription_id)
        with transaction.atomic():
            locked = CreditPlanSubscription.objects.select_for_update().get(pk=subscription.pk)
            _subscription_status(locked, CreditPlanSubscription.Status.CANCELED)
    subscription.refresh_from_db()
    return subscription


def _subscription_record(*, stripe_id: str, user: User, plan: CreditPlan) -> CreditPlanSubscription:
    subscription, _ = CreditPlanSubscription.objects.get_or_create(
        stripe_subscription_id=stripe_id, defaults={"user": user, "plan": plan})
    return CreditPlanSubscription.objects.select_for_update().get(pk=subscription.pk)


def _subscription_status(subscription: CreditPlanSubscription, status: str | None) -> None:
    """Follow Stripe's status, except backwards: events come in any order, and canceled is final."""
    Status = CreditPlanSubscription.Status
    if status not in Status.values or subscription.status == Status.CANCELED:
        return
    if status == Status.INCOMPLETE and subscription.status != Status.INCOMPLETE:
        return  # a late "created" event after the first invoice was paid
    changes: dict[str, Any] = {"status": status, "updated_at": timezone.now()}
    if status == Status.CANCELED:
        changes["canceled_at"] = timezone.now()
    CreditPlanSubscription.objects.filter(pk=subscription.pk).update(**changes)
    subscription.status = status


def _subscription_from_metadata(stripe_id: str, metadata: dict | None) -> CreditPlanSubscription | None:
    """A subscription started on Stripe's Checkout page is first seen in one of its events: make its row
    from the metadata we put on it (user and plan), whichever event comes first."""
    metadata = metadata or {}
    if metadata.get("purpose") != "credit_plan":
        return None
    try:
        user = User.objects.filter(pk=uuid.UUID(str(metadata.get("user")))).first()
        plan = CreditPlan.objects.filter(pk=uuid.UUID(str(metadata.get("credit_plan")))).first()
    except ValueError:
        return None
    if user is None or plan is None:
        return None
    return _subscription_record(stripe_id=stripe_id, user=user, plan=plan)


def _subscription_locked(stripe_id: str | None, metadata: dict | None) -> CreditPlanSubscription | None:
    if not stripe_id:
        return None
    found = CreditPlanSubscription.objects.select_for_update().filter(stripe_subscription_id=stripe_id).first()
    return found or _subscription_from_metadata(stripe_id, metadata)


def _subscription_from_checkout(session: dict) -> str:
    subscription = _subscription_locked(_id(session.get("subscription")), session.get("metadata"))
    return "subscription_recorded" if subscription else "unknown_subscription"


def _on_subscription_changed(stripe_subscription: dict, event_type: str) -> str:
    subscription = _subscription_locked(stripe_subscription.get("id"), stripe_subscription.get("metadata"))
    if subscription is None:
        return "unknown_subscription"
    status = "canceled" if event_type == "customer.subscription.deleted" else stripe_subscription.get("status")
    _subscription_status(subscription, status)
    return f"subscription_{subscription.status}"


def _invoice_subscription(invoice: dict) -> tuple[str | None, dict]:
    """The invoice's subscription id and the metadata it carried (recent API versions: under `parent`)."""
    details = (invoice.get("parent") or {}).get("subscription_details") or invoice.get("subscription_details") or {}
    stripe_id = _id(details.get("subscription")) or _id(invoice.get("subscription"))
    return stripe_id, details.get("metadata") or {}


def _invoice_payment_intent(invoice: dict) -> str | None:
    if intent := _id(invoice.get("payment_intent")):
        return intent
    for entry in (invoice.get("payments") or {}).get("data") or []:
        if intent := _id((entry.get("payment") or {}).get("payment_intent")):
            return intent
    return None


def _on_invoice_paid(invoice: dict, event_type: str) -> str:
    stripe_id, metadata = _invoice_subscription(invoice)
    subscription = _subscription_locked(stripe_id, metadata)
    if subscription is None:
        return "unknown_subscription"
    plan = subscription.plan
    problems = []
    if invoice.get("amount_paid") != plan.price_cents:
        problems.append(f"paid {invoice.get('amount_paid')} cents, plan costs {plan.price_cents}")
    if (invoice.get("currency") or "").lower() != gateway.CURRENCY:
        problems.append(f"currency {invoice.get('currency')}")
    if invoice.get("status") not in (None, "paid"):
        problems.append(f"invoice status {invoice.get('status')}")
    if problems:
        _security_warning(event_type, f"subscription {subscription.pk}", problems)
        return "mismatch"
    _, created = wallet_credit(user=subscription.user, amount=plan.credits,
                               reference=f"stripe:invoice:{invoice['id']}", kind=EntryKind.TOP_UP,
                               memo=f"Credit plan {plan.name} ({invoice['id']})")
    if created:
        # Shown with the top-ups, and what a refund of this invoice's charge finds.
        intent = _invoice_payment_intent(invoice)
        if intent and StripePayment.objects.filter(stripe_payment_intent=intent).exists():
            intent = None
        StripePayment.objects.create(
            user=subscription.user, type=StripePayment.Type.BALANCE_LOAD, status=StripePayment.Status.SUCCEEDED,
            amount=plan.credits, amount_cents=plan.price_cents, currency=gateway.CURRENCY,
            vendor=f"stripe: {plan.name}"[:100], stripe_payment_intent=intent, credited_at=timezone.now(),
        )
    _subscription_status(subscription, CreditPlanSubscription.Status.ACTIVE)
    return "credited" if created else "already_credited"


def _on_invoice_failed(invoice: dict, event_type: str) -> str:
    stripe_id, metadata = _invoice_subscription(invoice)
    subscription = _subscription_locked(stripe_id, metadata)
    if subscription is None:
        return "unknown_subscription"
    from billing import tasks  # the task module imports this one

    # After the commit: a rolled-back delivery sends nothing, and its retry sends it once.
    transaction.on_commit(lambda: tasks.credit_plan_payment_failed_notify.delay(str(subscription.pk)))
    return "payment_failed"


HANDLERS = {
    "checkout.session.completed": _on_checkout_session_paid,
    "checkout.session.async_payment_succeeded": _on_checkout_session_paid,
    "checkout.session.async_payment_failed": _on_payment_failed,
    "checkout.session.expired": _on_payment_failed,
    "payment_intent.succeeded": _on_payment_intent_succeeded,
    "payment_intent.payment_failed": _on_payment_failed,
    "payment_intent.canceled": _on_payment_failed,
    "charge.succeeded": _on_charge_succeeded,
    "charge.refunded": _on_charge_refunded,
    "refund.created": _on_refund,
    "refund.updated": _on_refund,
    "charge.refund.updated": _on_refund,
    "charge.dispute.created": _on_dispute_created,
    "charge.dispute.closed": _on_dispute_closed,
    "invoice.paid": _on_invoice_paid,
    "invoice.payment_succeeded": _on_invoice_paid,
    "invoice.payment_failed": _on_invoice_failed,
    "customer.subscription.created": _on_subscription_changed,
    "customer.subscription.updated": _on_subscription_changed,
    "customer.subscription.deleted": _on_subscription_changed,
}


def credit_plan_payment_failed_email(*, subscription: CreditPlanSubscription) -> None:
    from django.core.mail import send_mail

    plan, user = subscription.plan, subscription.user
    body = (
        f"Hello {user.full_name or user.username},\n\n"
        f"The monthly payment for your AgentHub credit plan \"{plan.name}\" did not go through, so no "
        f"BazaarBucks were loaded this time. Stripe will try the card again; you can change it or cancel "
        f"the plan on your wallet page:\n\n{settings.SITE_URL}{WALLET_PATH}\n"
    )
    send_mail(f"AgentHub: the payment for your {plan.name} plan failed", body, settings.DEFAULT_FROM_EMAIL,
              [user.email])


# --- Staff: refund a top-up to the card ------------------------------------------------------------------


def stripe_payment_refund(*, payment: StripePayment, amount_cents: int | None = None) -> dict:
    """Refund (part of) a card payment at Stripe and take the BB back at once; the refund's own
    webhook later finds the same reference and takes nothing twice."""
    if not payment.stripe_payment_intent or payment.credited_at is None:
        raise Conflict("Only a credited card payment can be refunded.", code="not_refundable")
    refund = gateway.refund_create(payment_intent=payment.stripe_payment_intent, amount_cents=amount_cents,
                                   idempotency_key=f"refund:{payment.pk}:{amount_cents or 'all'}")
    with transaction.atomic():
        locked = StripePayment.objects.select_for_update().get(pk=payment.pk)
        _refund_apply(refund, "refund.created", locked)
    return refund


# --- Reconciliation --------------------------------------------------------------------------------


def stripe_payments_reconcile(*, lookback=None) -> dict[str, int]:
    """Re-read recent pending top-ups from Stripe and credit those that succeeded without a webhook.

    Same reference as the webhook's (`stripe:<PaymentIntent>`): whichever comes second credits nothing.
    """
    counts = {"checked": 0, "credited": 0, "failed": 0, "errors": 0}
    if not gateway.is_configured():
        return counts
    since = timezone.now() - (lookback or settings.STRIPE_RECONCILE_LOOKBACK)
    pending = StripePayment.objects.filter(
        type=StripePayment.Type.BALANCE_LOAD, credited_at__isnull=True, created_at__gte=since,
        status__in=(StripePayment.Status.PENDING, StripePayment.Status.FAILED),
    ).exclude(stripe_payment_intent__isnull=True, stripe_checkout_session__isnull=True)
    for payment in pending.order_by("created_at"):
        counts["checked"] += 1
        try:
            outcome = _reconcile_one(payment)
        except gateway.StripeUnavailable:
            counts["errors"] += 1  # logged by the gateway; the next run tries again
            continue
        if outcome in counts:
            counts[outcome] += 1
    if counts["credited"]:
        logger.info("stripe reconciliation credited %s payment(s) that had no webhook", counts["credited"])
    return counts


def _reconcile_one(payment: StripePayment) -> str:
    intent_id = payment.stripe_payment_intent
    session = None
    if payment.stripe_checkout_session:
        session = gateway.checkout_session_retrieve(payment.stripe_checkout_session)
        intent_id = intent_id or _id(session.get("payment_intent"))
        if session.get("status") == "expired" and not intent_id:
            StripePayment.objects.filter(pk=payment.pk, status=StripePayment.Status.PENDING).update(
                status=StripePayment.Status.FAILED, updated_at=timezone.now())
            return "failed"
    if not intent_id:
        return "pending"
    intent = gateway.payment_intent_retrieve(intent_id)
    if intent.get("status") != "succeeded":
        return "pending"
    with transaction.atomic():
        locked = StripePayment.objects.select_for_update().get(pk=payment.pk)
        received = intent.get("amount_received", intent.get("amount"))
        outcome = _credit_top_up(payment=locked, intent=intent_id, amount_cents=received,
                                 currency=intent.get("currency"), event_type="reconciliation",
                                 metadata=intent.get("metadata"))
    return "credited" if outcome == "credited" else outcome
