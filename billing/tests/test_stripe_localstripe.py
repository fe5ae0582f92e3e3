"""Our Stripe calls through the official SDK against localstripe, a fake Stripe server started here.

Customers, PaymentIntents (a card that pays, one that is declined, one that asks for 3-D Secure),
refunds, plans and subscriptions, reconciliation, and the signed events localstripe itself sends
to our webhook on a live server.
"""

from decimal import Decimal

import pytest
import stripe

from billing import stripe_gateway as gateway
from billing import stripe_services
from billing.models import CreditPlan, CreditPlanSubscription, LedgerTransaction, StripeCustomer, StripePayment
from billing.services import account_for, ledger_is_consistent
from billing.tests import stripe_support as fake
from billing.tests.stripe_support import (  # noqa: F401  (fixtures)
    localstripe_events_fixture,
    localstripe_fixture,
    localstripe_server_fixture,
    signed_post,
)

pytestmark = pytest.mark.django_db

PAYS = "4242424242424242"
DECLINED = "4000000000000341"  # attaches, then the charge is declined
THREE_D_SECURE = "4000002760003184"  # asks the cardholder to authenticate


def balance(user) -> Decimal:
    return account_for(user=user).balance


def pay(base: str, intent_id: str, number: str) -> stripe.PaymentIntent:
    """What Stripe.js does with the client secret: attach the card and confirm."""
    client = fake.sdk(base)
    client.v1.payment_intents.update(intent_id, {"payment_method": fake.card(base, number)})
    return client.v1.payment_intents.confirm(intent_id)


def authenticate(base: str, intent_id: str, client_secret: str, *, success: bool) -> None:
    """The cardholder passes (or fails) the 3-D Secure challenge: localstripe's stand-in for the bank's page."""
    fake.localstripe_call(base, "POST", f"/v1/payment_intents/{intent_id}/_authenticate",
                          {"client_secret": client_secret, "success": "true" if success else "false"})


# --- Customers ---------------------------------------------------------------------------------------


def test_a_user_gets_one_stripe_customer(localstripe, alice):
    first = stripe_services.stripe_customer_for(user=alice)
    again = stripe_services.stripe_customer_for(user=alice)

    assert first == again and first.startswith("cus_")
    customer = fake.sdk(localstripe).v1.customers.retrieve(first)
    assert customer.email == alice.email and customer.metadata["user"] == str(alice.pk)
    assert StripeCustomer.objects.get(user=alice).customer_id == first


# --- PaymentIntents: created by us, paid by the customer, credited by localstripe's signed event ------------


def test_a_paid_payment_intent_credits_the_wallet_once_through_localstripes_signed_event(localstripe,
                                                                                          localstripe_events, alice):
    # given
    top_up = stripe_services.topup_create(user=alice, amount=Decimal("12.34"))
    intent = top_up.payment.stripe_payment_intent
    # then: a PaymentIntent for the exact cents, with its client secret, and nothing credited yet
    created = fake.sdk(localstripe).v1.payment_intents.retrieve(intent)
    assert created.amount == 1234 and created.currency == "usd" and created.status == "requires_payment_method"
    assert created.metadata["stripe_payment"] == str(top_up.payment.pk)
    assert top_up.client_secret == created.client_secret
    assert balance(alice) == 0
    # when the customer pays, and localstripe's signed event reaches our webhook (twice)
    assert pay(localstripe, intent, PAYS).status == "succeeded"
    succeeded = localstripe_events.wait_for("payment_intent.succeeded", intent)
    answers = localstripe_events.relay(succeeded + succeeded)
    # then: verified with our secret, credited once
    assert [answer.json()["outcome"] for answer in answers] == ["credited", "duplicate"]
    assert balance(alice) == Decimal("12.34")
    payment = StripePayment.objects.get()
    assert payment.status == "succeeded" and payment.credited_at is not None
    assert LedgerTransaction.objects.filter(reference=f"stripe:{intent}").count() == 1
    # and reconciliation afterwards finds nothing to do
    assert stripe_services.stripe_payments_reconcile()["credited"] == 0
    assert balance(alice) == Decimal("12.34")


def test_localstripes_events_are_refused_with_another_secret(localstripe, localstripe_events, alice, settings):
    top_up = stripe_services.topup_create(user=alice, amount=Decimal("10"))
    pay(localstripe, top_up.payment.stripe_payment_intent, PAYS)
    succeeded = localstripe_events.wait_for("payment_intent.succeeded", top_up.payment.stripe_payment_intent)
    settings.STRIPE_WEBHOOK_SECRET = "whsec_rotated_" + "x" * 20

    assert [answer.status_code for answer in localstripe_events.relay(succeeded)] == [400]
    assert balance(alice) == 0


def test_a_declined_card_credits_nothing_and_marks_the_payment_failed(localstripe, localstripe_events, alice):
    top_up = stripe_services.topup_create(user=alice, amount=Decimal("20"))

    with pytest.raises(stripe.CardError) as declined:
        pay(localstripe, top_up.payment.stripe_payment_intent, DECLINED)
    localstripe_events.relay(localstripe_events.wait_for("payment_intent.payment_failed",
                                                       top_up.payment.stripe_payment_intent))

    assert declined.value.code == "card_declined"
    assert StripePayment.objects.get().status == "failed"
    assert balance(alice) == 0 and not LedgerTransaction.objects.exists()


def test_3d_secure_credits_only_once_the_cardholder_authenticates(localstripe, localstripe_events, alice):
    # given
    top_up = stripe_services.topup_create(user=alice, amount=Decimal("50"))
    intent = top_up.payment.stripe_payment_intent
    # when the card asks for 3-D Secure
    confirmed = pay(localstripe, intent, THREE_D_SECURE)
    # then nothing is credited while it waits
    assert confirmed.status == "requires_action"
    assert confirmed.next_action.type == "use_stripe_sdk"
    assert stripe_services.stripe_payments_reconcile()["credited"] == 0
    assert balance(alice) == 0
    # when the cardholder authenticates
    authenticate(localstripe, intent, top_up.client_secret, success=True)
    localstripe_events.relay(localstripe_events.wait_for("payment_intent.succeeded", intent))
    # then
    assert balance(alice) == Decimal("50")
    assert LedgerTransaction.objects.filter(reference=f"stripe:{intent}").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_end_to_end_localstripe_calls_our_live_webhook_and_the_wallet_is_credited_once(localstripe, live_server,
                                                                                       alice):
    # given: localstripe sends its signed events straight to our webhook on a live server
    fake.localstripe_webhook(localstripe, live_server.url + fake.WEBHOOK_URL)
    top_up = stripe_services.topup_create(user=alice, amount=Decimal("12.34"))
    # when
    pay(localstripe, top_up.payment.stripe_payment_intent, PAYS)
    # then
    assert fake.wait_for(lambda: balance(alice) == Decimal("12.34"))
    assert fake.wait_for(lambda: StripePayment.objects.get().status == "succeeded")
    assert LedgerTransaction.objects.filter(reference__startswith="stripe:pi_").count() == 1


def test_failed_3d_secure_credits_nothing(localstripe, alice):
    top_up = stripe_services.topup_create(user=alice, amount=Decimal("50"))
    intent = top_up.payment.stripe_payment_intent
    pay(localstripe, intent, THREE_D_SECURE)

    authenticate(localstripe, intent, top_up.client_secret, success=False)

    assert fake.sdk(localstripe).v1.payment_intents.retrieve(intent).status == "requires_payment_method"
    assert stripe_services.stripe_payments_reconcile()["credited"] == 0
    assert balance(alice) == 0


# --- Reconciliation ---------------------------------------------------------------------------------------


def test_reconciliation_credits_a_payment_whose_webhook_never_came_once(localstripe, alice, bob):
    # given: two payments succeed at Stripe, but the webhooks go nowhere; a third is never paid
    paid = stripe_services.topup_create(user=alice, amount=Decimal("10"))
    also_paid = stripe_services.topup_create(user=bob, amount=Decimal("7.25"))
    stripe_services.topup_create(user=alice, amount=Decimal("99"))
    pay(localstripe, paid.payment.stripe_payment_intent, PAYS)
    pay(localstripe, also_paid.payment.stripe_payment_intent, PAYS)
    # when
    first = stripe_services.stripe_payments_reconcile()
    second = stripe_services.stripe_payments_reconcile()
    # then
    assert first == {"checked": 3, "credited": 2, "failed": 0, "errors": 0}
    assert second["credited"] == 0 and second["checked"] == 1
    assert balance(alice) == Decimal("10") and balance(bob) == Decimal("7.25")
    # and a late webhook for the same payment credits nothing more
    payment = StripePayment.objects.get(pk=paid.payment.pk)
    late = signed_post(fake.event("payment_intent.succeeded", fake.payment_intent(payment)))
    assert late.json()["outcome"] == "already_credited"
    assert balance(alice) == Decimal("10")
    assert ledger_is_consistent()


def test_the_reconciliation_task_runs_the_service(localstripe, alice):
    from billing.tasks import stripe_payments_reconcile

    paid = stripe_services.topup_create(user=alice, amount=Decimal("10"))
    pay(localstripe, paid.payment.stripe_payment_intent, PAYS)

    assert stripe_payments_reconcile.delay().get(timeout=10)["credited"] == 1
    assert balance(alice) == Decimal("10")


def test_reconciliation_without_stripe_does_nothing(settings, alice):
    settings.STRIPE_SECRET_KEY = ""
    fake.pending_top_up(alice, "10")

    assert stripe_services.stripe_payments_reconcile()["checked"] == 0


# --- Refunds ------------------------------------------------------------------------------------------


def test_a_refund_made_at_stripe_debits_the_wallet_once(localstripe, alice, settings):
    # given: a paid, credited top-up
    top_up = stripe_services.topup_create(user=alice, amount=Decimal("10"))
    pay(localstripe, top_up.payment.stripe_payment_intent, PAYS)
    stripe_services.stripe_payments_reconcile()
    payment = StripePayment.objects.get()
    # when staff refund 3 BB of it
    refund = stripe_services.stripe_payment_refund(payment=payment, amount_cents=300)
    # then Stripe has the refund, and the wallet gave the 3 BB back
    assert refund["status"] == "succeeded" and refund["amount"] == 300
    listed = fake.sdk(localstripe).v1.refunds.list({"payment_intent": payment.stripe_payment_intent})
    assert [r.id for r in listed.data] == [refund["id"]]
    assert balance(alice) == Decimal("7")
    # and Stripe's own report of that refund takes nothing more
    signed_post(fake.event("charge.refunded", fake.charge(payment, refunds=[refund])))
    signed_post(fake.event("refund.created", refund))
    assert balance(alice) == Decimal("7")
    assert ledger_is_consistent()


def test_charge_refunded_without_its_refund_list_reads_it_from_stripe(localstripe, alice):
    top_up = stripe_services.topup_create(user=alice, amount=Decimal("10"))
    paid = pay(localstripe, top_up.payment.stripe_payment_intent, PAYS)
    stripe_services.stripe_payments_reconcile()
    fake.sdk(localstripe).v1.refunds.create({"payment_intent": paid.id, "amount": 1000})
    payment = StripePayment.objects.get()
    charge = fake.charge(payment, refunded=True)
    charge["id"] = paid.latest_charge if isinstance(paid.latest_charge, str) else paid.latest_charge.id

    answer = signed_post(fake.event("charge.refunded", charge))

    assert answer.json()["outcome"] == "debited"
    assert balance(alice) == 0
    assert StripePayment.objects.get().status == "refunded"


# --- Credit plans: plans and subscriptions --------------------------------------------------------------------


@pytest.fixture
def builder_plan(db):
    return CreditPlan.objects.create(name="Builder", price_cents=2000, credits=Decimal("22"))


def test_a_credit_plan_subscription_loads_its_credits_when_its_invoice_is_paid(localstripe, localstripe_events,
                                                                                alice, builder_plan):
    # given: the plan exists at Stripe
    plan = stripe_services.credit_plan_sync(plan=builder_plan)
    stripe_plan = fake.sdk(localstripe).v1.plans.retrieve(plan.stripe_price_id)
    assert stripe_plan.amount == 2000 and stripe_plan.interval == "month" and stripe_plan.currency == "usd"
    # when alice subscribes with a card Stripe.js collected
    subscribed = stripe_services.credit_plan_subscribe(user=alice, plan=plan,
                                                       payment_method=fake.card(localstripe, PAYS))
    # then Stripe charged the first month
    subscription = subscribed.subscription
    assert subscription.status == "active"
    at_stripe = fake.sdk(localstripe).v1.subscriptions.retrieve(subscription.stripe_subscription_id)
    assert at_stripe.status == "active" and at_stripe.metadata["credit_plan"] == str(plan.pk)
    # when localstripe's events (every one it sent, twice) reach our webhook
    invoice = localstripe_events.wait_for("invoice.payment_succeeded", subscription.stripe_subscription_id)[0]
    paid_intent = invoice["object"]["payment_intent"]
    localstripe_events.wait_for("payment_intent.succeeded", paid_intent)
    localstripe_events.relay(localstripe_events.deliveries * 2)
    # then the paid invoice loaded the plan's BB, once
    assert balance(alice) == Decimal("22")
    assert LedgerTransaction.objects.filter(reference__startswith="stripe:invoice:").count() == 1
    # and she cannot subscribe to the same plan twice
    with pytest.raises(Exception) as twice:
        stripe_services.credit_plan_subscribe(user=alice, plan=plan, payment_method=fake.card(localstripe, PAYS))
    assert getattr(twice.value, "code", None) == "already_subscribed"
    # when she cancels
    canceled = stripe_services.credit_plan_cancel(subscription=subscription)
    # then at Stripe too, and the loaded BB stay
    assert canceled.status == "canceled" and canceled.canceled_at is not None
    assert fake.sdk(localstripe).v1.subscriptions.retrieve(subscription.stripe_subscription_id).status == "canceled"
    assert balance(alice) == Decimal("22")
    assert ledger_is_consistent()


def test_a_subscription_whose_first_payment_is_declined_loads_nothing(localstripe, alice, builder_plan):
    plan = stripe_services.credit_plan_sync(plan=builder_plan)

    subscribed = stripe_services.credit_plan_subscribe(user=alice, plan=plan,
                                                       payment_method=fake.card(localstripe, DECLINED))

    assert subscribed.subscription.status == "incomplete"
    assert balance(alice) == 0


def test_a_plan_is_synced_to_stripe_once(localstripe, builder_plan):
    first = stripe_services.credit_plan_sync(plan=builder_plan).stripe_price_id
    again = stripe_services.credit_plan_sync(plan=CreditPlan.objects.get()).stripe_price_id

    assert first == again
    assert len(fake.sdk(localstripe).v1.plans.list().data) == 1


def test_cancelling_twice_asks_stripe_once(localstripe, alice, builder_plan):
    plan = stripe_services.credit_plan_sync(plan=builder_plan)
    subscribed = stripe_services.credit_plan_subscribe(user=alice, plan=plan,
                                                       payment_method=fake.card(localstripe, PAYS))
    stripe_services.credit_plan_cancel(subscription=subscribed.subscription)

    again = stripe_services.credit_plan_cancel(subscription=CreditPlanSubscription.objects.get())

    assert again.status == "canceled"


def test_the_gateway_reads_payment_intents_back(localstripe, alice):
    top_up = stripe_services.topup_create(user=alice, amount=Decimal("5"))

    intent = gateway.payment_intent_retrieve(top_up.payment.stripe_payment_intent)

    assert isinstance(intent, dict) and intent["amount"] == 500 and intent["object"] == "payment_intent"
