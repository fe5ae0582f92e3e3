"""The one module that talks to Stripe: cents, and Checkout Sessions on Stripe's real wire format.

localstripe has no Checkout Sessions, so these calls go to `WireStripe`, a local server that reads
the SDK's form-encoded request and answers Stripe's JSON `checkout.session` object.
"""

import uuid
from decimal import Decimal

import pytest
import stripe

from agenthub.errors import InvalidInput
from billing import stripe_gateway as gateway
from billing import stripe_services
from billing.models import StripePayment
from billing.services import account_for
from billing.tests.stripe_support import free_port, wire_stripe_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


# --- Cents --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("bb", "cents"), [("0.01", 1), ("12.34", 1234), ("12.3400", 1234), ("1000", 100000),
                                           ("0.30", 30), ("99999999.99", 9999999999)])
def test_bb_to_cents_is_exact(bb, cents):
    assert gateway.bb_to_cents(Decimal(bb)) == cents
    assert gateway.cents_to_bb(cents) == Decimal(bb)


@pytest.mark.parametrize("bb", ["10.005", "0.001", "0.0001", "NaN", "Infinity"])
def test_a_fraction_of_a_cent_is_refused_never_rounded(bb):
    with pytest.raises(InvalidInput) as refused:
        gateway.bb_to_cents(Decimal(bb))
    assert "amount" in refused.value.fields


def test_without_a_secret_key_every_call_is_503(settings):
    settings.STRIPE_SECRET_KEY = ""

    with pytest.raises(gateway.StripeNotConfigured) as refused:
        gateway.payment_intent_retrieve("pi_1")
    assert refused.value.status_code == 503


# --- Checkout Sessions, on the wire -----------------------------------------------------------------------


def test_a_checkout_session_is_created_with_stripes_form_encoding_and_read_back(wire_stripe):
    # when
    session = gateway.checkout_session_create(
        amount_cents=1050, product_name="AgentHub BazaarBucks: 10.50 BB", customer="cus_123",
        success_url="https://agenthub.example/wallet?ok", cancel_url="https://agenthub.example/wallet?no",
        metadata={"stripe_payment": "p-1", "user": "u-1"}, idempotency_key="top-up:p-1",
    )
    # then: what went over the wire is what Stripe's API reads
    sent = wire_stripe.requests[-1]
    assert sent["method"] == "POST" and sent["path"] == "/v1/checkout/sessions"
    assert sent["headers"]["Authorization"] == "Bearer sk_test_wire_format"
    assert sent["headers"]["Idempotency-Key"] == "top-up:p-1"
    assert sent["headers"]["Stripe-Version"] == stripe.api_version
    assert sent["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent["form"] == {
        "mode": "payment",
        "line_items[0][quantity]": "1",
        "line_items[0][price_data][currency]": "usd",
        "line_items[0][price_data][unit_amount]": "1050",
        "line_items[0][price_data][product_data][name]": "AgentHub BazaarBucks: 10.50 BB",
        "success_url": "https://agenthub.example/wallet?ok",
        "cancel_url": "https://agenthub.example/wallet?no",
        "client_reference_id": "p-1",
        "customer": "cus_123",
        "metadata[stripe_payment]": "p-1",
        "metadata[user]": "u-1",
        "payment_intent_data[metadata][stripe_payment]": "p-1",
        "payment_intent_data[metadata][user]": "u-1",
    }
    # and the answer is Stripe's object, as a plain dict
    assert isinstance(session, dict)
    assert session["object"] == "checkout.session" and session["url"].startswith("https://checkout.stripe.com/")
    assert gateway.checkout_session_retrieve(session["id"])["id"] == session["id"]


def test_a_subscription_checkout_names_the_plans_price_and_tags_the_subscription(wire_stripe):
    gateway.subscription_checkout_session_create(
        price_id="price_builder", customer="cus_1", success_url="https://a.example/ok",
        cancel_url="https://a.example/no", metadata={"purpose": "credit_plan", "credit_plan": "plan-1"},
        idempotency_key="credit-plan-checkout:1",
    )

    form = wire_stripe.requests[-1]["form"]
    assert form["mode"] == "subscription"
    assert form["line_items[0][price]"] == "price_builder" and form["line_items[0][quantity]"] == "1"
    assert form["subscription_data[metadata][purpose]"] == "credit_plan"
    assert form["subscription_data[metadata][credit_plan]"] == "plan-1"


def test_a_checkout_top_up_records_the_pending_payment_then_the_session(wire_stripe, alice):
    # when
    top_up = stripe_services.topup_create(user=alice, amount=Decimal("10.50"), mode="checkout")
    # then
    payment = StripePayment.objects.get()
    assert payment.status == "pending" and payment.amount == Decimal("10.50") and payment.amount_cents == 1050
    assert payment.currency == "usd" and payment.type == "balance_load"
    assert payment.stripe_checkout_session.startswith("cs_test_") and payment.stripe_payment_intent is None
    assert top_up.checkout_url == wire_stripe.sessions[payment.stripe_checkout_session]["url"]
    form = wire_stripe.requests[-1]["form"]
    assert form["metadata[stripe_payment]"] == str(payment.pk) and form["metadata[mode]"] == "checkout"
    assert form["success_url"].startswith("http://127.0.0.1:8000/wallet?topUp=")
    assert "{CHECKOUT_SESSION_ID}" in form["success_url"]
    assert account_for(user=alice).balance == 0  # nothing until Stripe's webhook
    # the customer was made once and is reused
    stripe_services.topup_create(user=alice, amount=Decimal("5"), mode="checkout")
    assert [r["path"] for r in wire_stripe.requests].count("/v1/customers") == 1


def test_stripes_refusal_is_a_permanent_502_and_the_payment_is_marked_failed(wire_stripe, alice):
    stripe_services.stripe_customer_for(user=alice)
    wire_stripe.fail_with = (400, {"error": {"type": "invalid_request_error", "code": "parameter_invalid_integer",
                                             "param": "line_items[0][price_data][unit_amount]",
                                             "message": "Invalid integer: 10.5"}})

    with pytest.raises(gateway.StripeUnavailable) as refused:
        stripe_services.topup_create(user=alice, amount=Decimal("10"), mode="checkout")

    assert refused.value.status_code == 502 and refused.value.transient is False
    assert StripePayment.objects.get().status == "failed"


def test_an_unreachable_stripe_is_a_transient_error(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_nobody_home"
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(gateway.StripeUnavailable) as failed:
        gateway.checkout_session_retrieve(f"cs_test_{uuid.uuid4().hex}")

    assert failed.value.transient is True
