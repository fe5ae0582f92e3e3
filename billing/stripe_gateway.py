"""The one module that talks to Stripe, through the official SDK.

Everything else in AgentHub calls these functions and gets plain dicts back (Stripe's JSON
objects), never SDK objects, and one of two errors: `StripeNotConfigured` (503: no secret key)
or `StripeUnavailable` (502: Stripe refused or could not be reached; `transient` says whether
trying again later may help). Card declines are `PaymentDeclined` (402).

Requests go to `settings.STRIPE_API_BASE` when it is set (a local fake Stripe in tests), with
explicit timeouts and the SDK's own retries, which reuse one idempotency key per call: a POST
retried after a lost answer creates nothing twice. Callers pass their own idempotency keys too,
derived from our row ids, so a request repeated by us is one object at Stripe.

Money: 1 BB = 1 USD = 100 cents. Stripe counts integer cents; a BB amount with a fraction of a
cent cannot be charged and is refused here, never rounded.
"""

import logging
import time
from decimal import Decimal
from functools import lru_cache
from typing import Any

import stripe
from django.conf import settings

from agenthub.errors import DomainError, InvalidInput

logger = logging.getLogger(__name__)

CURRENCY = "usd"
CENTS_PER_BB = 100
CONNECT_TIMEOUT = 5  # seconds
READ_TIMEOUT = 30
NETWORK_RETRIES = 2


class StripeNotConfigured(DomainError):
    """503: card payments need STRIPE_SECRET_KEY."""

    status_code = 503
    code = "stripe_not_configured"

    def __init__(self, message: str = "Card payments are not available: Stripe is not configured on this server."):
        super().__init__(message)


class StripeUnavailable(DomainError):
    """502: Stripe refused the request or could not be reached."""

    status_code = 502
    code = "payment_provider_error"

    def __init__(self, message: str, *, transient: bool):
        super().__init__(message)
        self.transient = transient


class PaymentDeclined(DomainError):
    status_code = 402
    code = "card_declined"


# --- Money --------------------------------------------------------------------------------------------


def bb_to_cents(amount: Decimal) -> int:
    """Exact: 12.34 BB -> 1234. A fraction of a cent is refused, not rounded."""
    cents = Decimal(amount) * CENTS_PER_BB
    if not cents.is_finite() or cents != cents.to_integral_value():
        raise InvalidInput(f"{amount} BB is not a whole number of cents.",
                           fields={"amount": ["Must be whole cents (at most 2 decimal places)."]})
    return int(cents)


def cents_to_bb(cents: int) -> Decimal:
    return Decimal(int(cents)).scaleb(-2)  # exact: no division, no rounding


# --- The client ---------------------------------------------------------------------------------------


def is_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


@lru_cache(maxsize=4)
def _client_for(api_key: str, api_base: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        http_client=stripe.RequestsClient(timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)),
        max_network_retries=NETWORK_RETRIES,
    )


def _client() -> stripe.StripeClient:
    if not is_configured():
        raise StripeNotConfigured()
    return _client_for(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE.rstrip("/"))


def _call(what: str, request, *args, **kwargs) -> dict[str, Any]:
    """Run one SDK call; its answer as a plain dict, its failure as one of our errors."""
    try:
        answer = request(*args, **kwargs)
    except stripe.CardError as error:
        raise PaymentDeclined(error.user_message or "The card was declined.",
                              fields={"card": [error.code or "card_declined"]}) from None
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as error:
        logger.warning("stripe %s failed (transient): %s request_id=%s", what, type(error).__name__,
                       getattr(error, "request_id", None))
        raise StripeUnavailable("The payment provider could not be reached; try again shortly.",
                                transient=True) from None
    except stripe.StripeError as error:
        # A refused request (bad parameters, an unknown id, a wrong key): trying again will not help.
        logger.error("stripe %s refused: %s code=%s status=%s request_id=%s", what, type(error).__name__,
                     getattr(error, "code", None), getattr(error, "http_status", None),
                     getattr(error, "request_id", None))
        raise StripeUnavailable("The payment provider refused the request.", transient=False) from None
    return answer.to_dict() if hasattr(answer, "to_dict") else dict(answer)


def _options(idempotency_key: str | None) -> dict:
    return {"idempotency_key": idempotency_key} if idempotency_key else {}


# --- Customers ---------------------------------------------------------------------------------------


def customer_create(*, email: str, name: str, metadata: dict[str, str], idempotency_key: str) -> dict:
    params = {"email": email, "name": name, "metadata": metadata}
    return _call("customer create", _client().v1.customers.create, params, _options(idempotency_key))


# --- Top-ups: a Checkout Session (pages) or a PaymentIntent (API clients) -----------------------------


def checkout_session_create(*, amount_cents: int, product_name: str, customer: str | None, success_url: str,
                            cancel_url: str, metadata: dict[str, str], idempotency_key: str) -> dict:
    """A hosted payment page for one card payment of `amount_cents`; its `url` is where to send the browser."""
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [{
            "quantity": 1,
            "price_data": {"currency": CURRENCY, "unit_amount": amount_cents, "product_data": {"name": product_name}},
        }],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "client_reference_id": metadata.get("stripe_payment", ""),
        "metadata": metadata,
        # The PaymentIntent that Checkout makes carries the same metadata, so its own events find us.
        "payment_intent_data": {"metadata": metadata},
    }
    if customer:
        params["customer"] = customer
    return _call("checkout session create", _client().v1.checkout.sessions.create, params,
                 _options(idempotency_key))


def checkout_session_retrieve(session_id: str) -> dict:
    return _call("checkout session retrieve", _client().v1.checkout.sessions.retrieve, session_id)


def payment_intent_create(*, amount_cents: int, customer: str | None, metadata: dict[str, str],
                          idempotency_key: str) -> dict:
    """A PaymentIntent that an API client confirms with Stripe.js or a mobile SDK (its `client_secret`)."""
    params: dict[str, Any] = {"amount": amount_cents, "currency": CURRENCY, "metadata": metadata}
    if customer:
        params["customer"] = customer
    return _call("payment intent create", _client().v1.payment_intents.create, params, _options(idempotency_key))


def payment_intent_retrieve(payment_intent_id: str) -> dict:
    return _call("payment intent retrieve", _client().v1.payment_intents.retrieve, payment_intent_id)


def charge_retrieve(charge_id: str) -> dict:
    return _call("charge retrieve", _client().v1.charges.retrieve, charge_id)


# --- Refunds -----------------------------------------------------------------------------------------


def refund_create(*, payment_intent: str, amount_cents: int | None, idempotency_key: str) -> dict:
    params: dict[str, Any] = {"payment_intent": payment_intent}
    if amount_cents is not None:
        params["amount"] = amount_cents
    return _call("refund create", _client().v1.refunds.create, params, _options(idempotency_key))


def refunds_for_charge(charge_id: str) -> list[dict]:
    answer = _call("refund list", _client().v1.refunds.list, {"charge": charge_id, "limit": 100})
    return list(answer.get("data") or [])


# --- Credit plans: prices (plans) and subscriptions ------------------------------------------------------


def plan_create(*, name: str, amount_cents: int, idempotency_key: str) -> dict:
    """A monthly recurring price. Created through the Plans API, whose ids Stripe also takes as price ids."""
    params = {"amount": amount_cents, "currency": CURRENCY, "interval": "month", "product": {"name": name}}
    return _call("plan create", _client().v1.plans.create, params, _options(idempotency_key))


def subscription_create(*, customer: str, price_id: str, payment_method: str, metadata: dict[str, str],
                        idempotency_key: str) -> dict:
    """Subscribe `customer` with a card they already gave Stripe (a PaymentMethod id from Stripe.js)."""
    client = _client()
    _call("payment method attach", client.v1.payment_methods.attach, payment_method, {"customer": customer},
          _options(f"{idempotency_key}:attach"))
    _call("customer update", client.v1.customers.update, customer,
          {"invoice_settings": {"default_payment_method": payment_method}}, _options(f"{idempotency_key}:default"))
    params = {"customer": customer, "items": [{"plan": price_id}], "metadata": metadata}
    return _call("subscription create", client.v1.subscriptions.create, params, _options(idempotency_key))


def subscription_checkout_session_create(*, price_id: str, customer: str, success_url: str, cancel_url: str,
                                         metadata: dict[str, str], idempotency_key: str) -> dict:
    """A hosted page where the user gives a card and starts the subscription (the wallet page's way)."""
    params = {
        "mode": "subscription",
        "line_items": [{"price": price_id, "quantity": 1}],
        "customer": customer,
        "success_url": success_url,
        "cancel_url": cancel_url,
        "metadata": metadata,
        # Copied onto the subscription and from there onto each invoice: its events find the user and plan.
        "subscription_data": {"metadata": metadata},
    }
    return _call("subscription checkout create", _client().v1.checkout.sessions.create, params,
                 _options(idempotency_key))


def subscription_retrieve(subscription_id: str) -> dict:
    return _call("subscription retrieve", _client().v1.subscriptions.retrieve, subscription_id)


def subscription_cancel(subscription_id: str) -> dict:
    """Cancel now: no further invoice. BB already loaded for the period stay on the wallet."""
    return _call("subscription cancel", _client().v1.subscriptions.cancel, subscription_id)


# --- Webhooks ----------------------------------------------------------------------------------------


class WebhookSignatureInvalid(DomainError):
    """400: not an event Stripe signed with our secret, or signed too long ago (or in the future)."""

    code = "invalid_signature"


def _signed_at(header: str) -> int:
    """The `t=` of a Stripe-Signature header (the first, as the SDK reads it)."""
    for item in header.split(","):
        key, _, value = item.partition("=")
        if key.strip() == "t":
            return int(value)
    raise ValueError("no timestamp")


def event_verify(*, payload: bytes, signature: str | None, secret: str, tolerance: int) -> dict:
    """The event Stripe sent, as a dict, once its signature is verified with the SDK.

    The SDK refuses timestamps older than `tolerance` seconds but lets any future one through, so
    a signed request captured once could be replayed until then: refuse those too.
    """
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret, tolerance=tolerance)
    except stripe.SignatureVerificationError as error:
        reason = error.user_message or "verification failed"
        raise WebhookSignatureInvalid(f"Invalid Stripe-Signature: {reason}") from None
    except (ValueError, TypeError, AttributeError):  # not UTF-8, not JSON, not an object
        raise WebhookSignatureInvalid("The body is not a Stripe event.") from None
    if _signed_at(signature or "") > time.time() + tolerance:
        raise WebhookSignatureInvalid("Invalid Stripe-Signature: the timestamp is in the future.")
    return event.to_dict()
