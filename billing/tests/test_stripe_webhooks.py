"""Stripe's webhook: signed with the official SDK's scheme, credited at most once per payment."""

import itertools
import json
import logging
import threading
import time
import uuid
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connections
from django.test import Client

from billing import stripe_services
from billing.models import (
    Account,
    CreditPlan,
    CreditPlanSubscription,
    LedgerTransaction,
    StripeEvent,
    StripePayment,
)
from billing.services import account_for, ledger_is_consistent, wallet_credit, wallet_debit_external
from billing.tests import stripe_support as fake
from billing.tests.stripe_support import signed_post

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = fake.SECRET


def balance(user) -> Decimal:
    return account_for(user=user).balance


def credits_for(payment: StripePayment) -> int:
    return LedgerTransaction.objects.filter(reference=f"stripe:{payment.stripe_payment_intent}").count()


def paid(payment: StripePayment, kind: str) -> dict:
    """The event of `kind` that says `payment` succeeded."""
    if kind == "checkout.session.completed":
        return fake.event(kind, fake.checkout_session(payment))
    if kind == "payment_intent.succeeded":
        return fake.event(kind, fake.payment_intent(payment))
    return fake.event(kind, fake.charge(payment))


PAID_EVENTS = ("checkout.session.completed", "payment_intent.succeeded", "charge.succeeded")


# --- At most once ---------------------------------------------------------------------------------------


def test_one_event_delivered_100_times_credits_once(alice):
    # given
    payment = fake.pending_top_up(alice, "10")
    delivery = fake.event("payment_intent.succeeded", fake.payment_intent(payment))
    # when
    answers = [signed_post(delivery) for _ in range(100)]
    # then
    assert {answer.status_code for answer in answers} == {200}
    assert answers[0].json()["outcome"] == "credited"
    assert {answer.json()["outcome"] for answer in answers[1:]} == {"duplicate"}
    assert balance(alice) == Decimal("10")
    assert credits_for(payment) == 1
    payment.refresh_from_db()
    assert payment.status == StripePayment.Status.SUCCEEDED and payment.credited_at is not None
    assert ledger_is_consistent()


@pytest.mark.parametrize("order", list(itertools.permutations(PAID_EVENTS)), ids=lambda order: ">".join(
    kind.split(".")[0] for kind in order))
def test_the_three_events_of_one_checkout_payment_credit_once_in_any_order(alice, order):
    # given: a Checkout top-up (the pages' way), each event delivered twice
    payment = fake.pending_top_up(alice, "25.50", session=f"cs_test_{uuid.uuid4().hex}")
    # when
    outcomes = [signed_post(paid(payment, kind)).json()["outcome"] for kind in order for _ in range(2)]
    # then
    assert outcomes.count("credited") == 1
    assert balance(alice) == Decimal("25.50")
    assert credits_for(payment) == 1
    assert StripeEvent.objects.count() == 6


def test_a_checkout_event_that_comes_before_the_session_id_is_saved_still_credits_once(alice):
    # given: Stripe answered so fast that our row has no ids yet; the event finds it by its metadata
    payment = fake.pending_top_up(alice, "5", intent=None)
    session = fake.checkout_session(payment, intent="pi_early_intent")
    session["id"] = "cs_test_early"
    # when
    first = signed_post(fake.event("checkout.session.completed", session))
    again = signed_post(fake.event("payment_intent.succeeded", fake.payment_intent(payment, intent="pi_early_intent",
                                                                                   mode="checkout")))
    # then
    assert first.json()["outcome"] == "credited" and again.json()["outcome"] == "already_credited"
    payment.refresh_from_db()
    assert payment.stripe_payment_intent == "pi_early_intent"
    assert payment.stripe_checkout_session == "cs_test_early"
    assert balance(alice) == Decimal("5")


def _deliver_concurrently(bodies: list[dict]) -> list[int]:
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = []

    def deliver(body):
        try:
            barrier.wait(timeout=10)
            statuses.append(signed_post(body).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_event_delivered_20_times_at_once_credits_once(alice):
    # given
    payment = fake.pending_top_up(alice, "10")
    delivery = fake.event("payment_intent.succeeded", fake.payment_intent(payment))
    # when
    statuses = _deliver_concurrently([delivery] * 20)
    # then
    assert statuses == [200] * 20
    assert balance(alice) == Decimal("10")
    assert credits_for(payment) == 1
    assert ledger_is_consistent()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_20_different_events_for_one_payment_at_once_credit_once(alice):
    # given: the three event types, each a different event id: the event table cannot dedupe them,
    # only the payment's lock and the ledger reference can
    payment = fake.pending_top_up(alice, "10", session=f"cs_test_{uuid.uuid4().hex}")
    bodies = [paid(payment, PAID_EVENTS[n % 3]) for n in range(20)]
    # when
    statuses = _deliver_concurrently(bodies)
    # then
    assert statuses == [200] * 20
    assert balance(alice) == Decimal("10")
    assert credits_for(payment) == 1
    assert ledger_is_consistent()


# --- Signatures -----------------------------------------------------------------------------------------


def _tampered(body: str) -> tuple[str, str]:
    header = fake.signature_header(body)
    return body.replace('"amount": 1000', '"amount": 100000'), header


BAD_DELIVERIES = {
    "tampered body": lambda body: _tampered(body),
    "wrong secret": lambda body: (body, fake.signature_header(body, secret="whsec_someone_else")),
    "missing header": lambda body: (body, ""),
    "garbage header": lambda body: (body, "this is not a signature"),
    "no v1 signature": lambda body: (body, f"t={int(time.time())},v0=abc"),
    "non-numeric timestamp": lambda body: (body, "t=soon,v1=" + "0" * 64),
    "timestamp 301 s old": lambda body: (body, fake.signature_header(body, timestamp=int(time.time()) - 301)),
    "timestamp 1 day old": lambda body: (body, fake.signature_header(body, timestamp=int(time.time()) - 86400)),
    "timestamp 301 s ahead": lambda body: (body, fake.signature_header(body, timestamp=int(time.time()) + 301)),
    "timestamp 1 day ahead": lambda body: (body, fake.signature_header(body, timestamp=int(time.time()) + 86400)),
}


@pytest.mark.parametrize("case", BAD_DELIVERIES)
def test_a_bad_signature_is_400_and_credits_nothing(alice, case):
    # given
    payment = fake.pending_top_up(alice, "10")
    body = json.dumps(fake.event("payment_intent.succeeded", fake.payment_intent(payment)))
    sent_body, header = BAD_DELIVERIES[case](body)
    # when
    answer = signed_post(sent_body, header=header)
    # then
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_signature"
    assert balance(alice) == 0 and credits_for(payment) == 0
    assert not StripeEvent.objects.exists()


def test_a_signed_body_that_is_not_json_or_not_utf8_is_400(alice):
    for body in ("not json at all", "[1, 2]"):
        assert signed_post(body).status_code == 400
    raw = b"\xff\xfe{}"
    header = f"t={int(time.time())},v1=" + "0" * 64
    answer = Client().post(fake.WEBHOOK_URL, data=raw, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)
    assert answer.status_code == 400


def test_timestamps_within_the_tolerance_are_accepted(alice):
    payment = fake.pending_top_up(alice, "10")
    body = fake.event("payment_intent.succeeded", fake.payment_intent(payment))

    assert signed_post(body, timestamp=int(time.time()) - 250).status_code == 200
    assert signed_post(body, timestamp=int(time.time()) + 60).status_code == 200
    assert balance(alice) == Decimal("10")


def test_without_a_webhook_secret_events_are_refused_with_503_so_stripe_retries(alice, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    payment = fake.pending_top_up(alice, "10")

    answer = signed_post(fake.event("payment_intent.succeeded", fake.payment_intent(payment)))

    assert answer.status_code == 503 and balance(alice) == 0


def test_the_webhook_answers_only_post():
    assert Client().get(fake.WEBHOOK_URL).status_code == 405


def test_event_types_we_do_not_handle_are_acknowledged():
    answer = signed_post(fake.event("customer.created", {"id": "cus_1", "object": "customer"}))

    assert answer.status_code == 200 and answer.json()["outcome"] == "ignored"
    assert not StripeEvent.objects.exists()


def test_an_event_for_a_payment_we_never_made_credits_nothing(alice):
    stranger = {"id": "pi_not_ours", "object": "payment_intent", "amount": 5000, "amount_received": 5000,
                "currency": "usd", "status": "succeeded", "metadata": {}}

    answer = signed_post(fake.event("payment_intent.succeeded", stranger))

    assert answer.status_code == 200 and answer.json()["outcome"] == "unknown_payment"
    assert not LedgerTransaction.objects.exists()


# --- A handler that fails halfway ------------------------------------------------------------------------


def test_a_handler_that_fails_halfway_writes_nothing_and_the_next_delivery_credits_once(alice, monkeypatch):
    # given: the credit is written, then marking the payment blows up
    payment = fake.pending_top_up(alice, "10")
    delivery = fake.event("payment_intent.succeeded", fake.payment_intent(payment))
    real = stripe_services._payment_mark_credited

    def crash(**kwargs):
        raise RuntimeError("the database went away mid-handler")

    monkeypatch.setattr(stripe_services, "_payment_mark_credited", crash)
    # when
    failed = signed_post(delivery, client=Client(raise_request_exception=False))
    # then: 5xx, and no credit, no event row, the payment still pending
    assert failed.status_code == 500
    assert failed.json()["error"]["code"] == "server_error"
    assert balance(alice) == 0 and credits_for(payment) == 0
    assert not StripeEvent.objects.exists()
    payment.refresh_from_db()
    assert payment.status == StripePayment.Status.PENDING and payment.credited_at is None
    # when Stripe retries, the handler works again
    monkeypatch.setattr(stripe_services, "_payment_mark_credited", real)
    retried = [signed_post(delivery) for _ in range(3)]
    # then
    assert [answer.json()["outcome"] for answer in retried] == ["credited", "duplicate", "duplicate"]
    assert balance(alice) == Decimal("10") and credits_for(payment) == 1
    assert ledger_is_consistent()


# --- What disagrees with what was created ------------------------------------------------------------------


def _mismatches(payment):
    return {
        "amount": fake.event("payment_intent.succeeded", fake.payment_intent(payment, amount=100000)),
        "currency": fake.event("payment_intent.succeeded", fake.payment_intent(payment, currency="eur")),
        "charge amount": fake.event("charge.succeeded", fake.charge(payment, amount=1)),
        "checkout amount": fake.event("checkout.session.completed", fake.checkout_session(payment, amount=99)),
        "checkout currency": fake.event("checkout.session.completed", fake.checkout_session(payment, currency="gbp")),
        "checkout mode": fake.event("checkout.session.completed", fake.checkout_session(payment, mode="subscription")),
        "another payment intent": fake.event("checkout.session.completed",
                                             fake.checkout_session(payment, intent="pi_someone_elses")),
    }


@pytest.mark.parametrize("case", ["amount", "currency", "charge amount", "checkout amount", "checkout currency",
                                  "checkout mode", "another payment intent"])
def test_an_event_that_disagrees_with_the_payment_credits_nothing_and_logs_one_security_line(alice, case, caplog):
    # given
    payment = fake.pending_top_up(alice, "10", session=f"cs_test_{uuid.uuid4().hex}")
    # when
    with caplog.at_level(logging.WARNING, logger="billing.stripe_services"):
        answer = signed_post(_mismatches(payment)[case])
    # then
    assert answer.status_code == 200 and answer.json()["outcome"] == "mismatch"
    assert balance(alice) == 0 and not LedgerTransaction.objects.exists()
    warnings = [record for record in caplog.records if record.name == "billing.stripe_services"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    line = warnings[0].getMessage()
    assert "security" in line and str(payment.pk) in line
    assert "whsec_" not in line and "sk_" not in line and "secret" not in line.replace("security", "")


def test_a_top_up_made_as_a_payment_intent_is_not_credited_by_a_checkout_session(alice):
    payment = fake.pending_top_up(alice, "10", intent=None)
    session = fake.checkout_session(payment, intent="pi_from_checkout")
    session["id"] = "cs_test_unexpected"
    session["metadata"]["mode"] = "payment_intent"

    assert signed_post(fake.event("checkout.session.completed", session)).json()["outcome"] == "mismatch"
    assert balance(alice) == 0


def test_an_unpaid_checkout_session_credits_nothing_until_its_async_payment_succeeds(alice):
    payment = fake.pending_top_up(alice, "10", session=f"cs_test_{uuid.uuid4().hex}")

    unpaid = signed_post(fake.event("checkout.session.completed", fake.checkout_session(payment,
                                                                                        payment_status="unpaid")))
    later = signed_post(fake.event("checkout.session.async_payment_succeeded", fake.checkout_session(payment)))

    assert unpaid.json()["outcome"] == "not_paid" and later.json()["outcome"] == "credited"
    assert balance(alice) == Decimal("10")


def test_a_failed_payment_is_marked_failed_and_a_later_success_still_credits(alice):
    payment = fake.pending_top_up(alice, "10")

    signed_post(fake.event("payment_intent.payment_failed", fake.payment_intent(payment,
                                                                                status="requires_payment_method")))
    payment.refresh_from_db()
    assert payment.status == StripePayment.Status.FAILED and balance(alice) == 0

    signed_post(fake.event("payment_intent.succeeded", fake.payment_intent(payment)))
    payment.refresh_from_db()
    assert payment.status == StripePayment.Status.SUCCEEDED and balance(alice) == Decimal("10")


# --- Refunds and disputes ---------------------------------------------------------------------------------


def _credited_top_up(user, amount="10") -> StripePayment:
    payment = fake.pending_top_up(user, amount)
    assert signed_post(fake.event("payment_intent.succeeded", fake.payment_intent(payment))).json()["outcome"] == (
        "credited")
    payment.refresh_from_db()
    return payment


def test_a_partial_refund_debits_the_wallet_once_whichever_events_report_it(alice):
    # given
    payment = _credited_top_up(alice, "10")
    refund = fake.refund(payment, 400)
    # when: charge.refunded (twice) and refund.created, for one refund
    for _ in range(2):
        signed_post(fake.event("charge.refunded", fake.charge(payment, refunds=[refund])))
    signed_post(fake.event("refund.created", refund))
    # then
    assert balance(alice) == Decimal("6")
    assert LedgerTransaction.objects.filter(reference=f"stripe:refund:{refund['id']}").count() == 1
    payment.refresh_from_db()
    assert payment.status == StripePayment.Status.SUCCEEDED  # partly refunded: still a completed payment
    assert ledger_is_consistent()


def test_a_refund_bigger_than_the_balance_takes_what_is_there_and_records_debt(alice):
    # given: 10 BB loaded, 7 of them gone since
    payment = _credited_top_up(alice, "10")
    wallet_debit_external(user=alice, amount=Decimal("7"), reference="test:spent")
    refund = fake.refund(payment, 1000)
    # when
    answer = signed_post(fake.event("charge.refunded", fake.charge(payment, refunds=[refund], refunded=True)))
    # then: never below zero; the rest is debt, which blocks new runs
    assert answer.json()["outcome"] == "debited"
    wallet = account_for(user=alice)
    assert wallet.balance == 0 and wallet.debt == Decimal("7")
    payment.refresh_from_db()
    assert payment.status == StripePayment.Status.REFUNDED
    assert ledger_is_consistent()


def test_charge_refunded_without_its_refunds_asks_stripe_for_them(alice, monkeypatch):
    payment = _credited_top_up(alice, "10")
    refund = fake.refund(payment, 250)
    monkeypatch.setattr("billing.stripe_gateway.refunds_for_charge", lambda charge_id: [refund])

    signed_post(fake.event("charge.refunded", fake.charge(payment)))

    assert balance(alice) == Decimal("7.50")


def test_a_refund_that_comes_before_the_credit_is_recorded_as_debt_that_the_credit_meets(alice):
    payment = fake.pending_top_up(alice, "10")
    refund = fake.refund(payment, 1000)

    signed_post(fake.event("refund.created", refund))
    assert account_for(user=alice).debt == Decimal("10")
    signed_post(fake.event("payment_intent.succeeded", fake.payment_intent(payment)))

    payment.refresh_from_db()
    assert payment.status == StripePayment.Status.REFUNDED and payment.credited_at is not None
    assert account_for(user=alice).debt == 0
    assert ledger_is_consistent()


def test_a_refunded_payment_leaves_nothing_on_the_wallet_whatever_the_order(alice):
    payment = fake.pending_top_up(alice, "10")

    signed_post(fake.event("refund.created", fake.refund(payment, 1000)))
    signed_post(fake.event("payment_intent.succeeded", fake.payment_intent(payment)))

    assert balance(alice) == 0


def test_a_dispute_debits_once_and_a_won_dispute_gives_it_back(alice):
    # given
    payment = _credited_top_up(alice, "10")
    opened = fake.dispute(payment, 1000)
    # when
    for _ in range(3):
        signed_post(fake.event("charge.dispute.created", opened))
    # then
    assert balance(alice) == 0
    payment.refresh_from_db()
    assert payment.status == StripePayment.Status.DISPUTED
    # when the dispute is won
    won = {**opened, "status": "won"}
    for _ in range(2):
        signed_post(fake.event("charge.dispute.closed", won))
    # then
    assert balance(alice) == Decimal("10")
    payment.refresh_from_db()
    assert payment.status == StripePayment.Status.SUCCEEDED
    assert ledger_is_consistent()


# --- Credit plans ------------------------------------------------------------------------------------------


@pytest.fixture
def plan(db):
    return CreditPlan.objects.create(name="Builder", price_cents=2000, credits=Decimal("22"),
                                     stripe_price_id="price_builder")


def test_a_paid_invoice_loads_the_plans_credits_once_per_invoice(alice, plan):
    # given
    CreditPlanSubscription.objects.create(user=alice, plan=plan, stripe_subscription_id="sub_1")
    first = fake.invoice("sub_1", 2000)
    # when: both of Stripe's "paid" events, each delivered twice
    for kind in ("invoice.payment_succeeded", "invoice.paid", "invoice.payment_succeeded"):
        signed_post(fake.event(kind, first))
    # then
    assert balance(alice) == Decimal("22")
    subscription = CreditPlanSubscription.objects.get()
    assert subscription.status == CreditPlanSubscription.Status.ACTIVE
    # when next month's invoice is paid
    signed_post(fake.event("invoice.payment_succeeded", fake.invoice("sub_1", 2000)))
    # then
    assert balance(alice) == Decimal("44")
    assert StripePayment.objects.filter(user=alice, type="balance_load", status="succeeded").count() == 2
    assert ledger_is_consistent()


def test_a_subscription_started_on_stripes_page_is_recorded_from_whichever_event_comes_first(alice, plan):
    metadata = {"user": str(alice.pk), "credit_plan": str(plan.pk), "purpose": "credit_plan"}

    answer = signed_post(fake.event("invoice.payment_succeeded", fake.invoice("sub_new", 2000, metadata=metadata)))
    signed_post(fake.event("checkout.session.completed", {
        "id": "cs_test_sub", "object": "checkout.session", "mode": "subscription", "subscription": "sub_new",
        "payment_status": "paid", "amount_total": 2000, "currency": "usd", "metadata": metadata}))

    assert answer.json()["outcome"] == "credited"
    subscription = CreditPlanSubscription.objects.get(stripe_subscription_id="sub_new")
    assert subscription.user == alice and subscription.plan == plan and subscription.status == "active"
    assert balance(alice) == Decimal("22")


def test_an_invoice_that_disagrees_with_the_plan_loads_nothing(alice, plan, caplog):
    CreditPlanSubscription.objects.create(user=alice, plan=plan, stripe_subscription_id="sub_1")

    with caplog.at_level(logging.WARNING, logger="billing.stripe_services"):
        cheap = signed_post(fake.event("invoice.payment_succeeded", fake.invoice("sub_1", 100)))
        euros = signed_post(fake.event("invoice.payment_succeeded", fake.invoice("sub_1", 2000, currency="eur")))

    assert cheap.json()["outcome"] == euros.json()["outcome"] == "mismatch"
    assert balance(alice) == 0
    assert len([r for r in caplog.records if r.name == "billing.stripe_services"]) == 2


def test_a_failed_invoice_loads_nothing_and_emails_the_user_once_committed(alice, plan,
                                                                           django_capture_on_commit_callbacks):
    CreditPlanSubscription.objects.create(user=alice, plan=plan, stripe_subscription_id="sub_1", status="active")
    failed = fake.event("invoice.payment_failed", fake.invoice("sub_1", 2000, status="open"))

    with django_capture_on_commit_callbacks(execute=True):
        answer = signed_post(failed)
        signed_post(failed)  # redelivered: no second email

    assert answer.json()["outcome"] == "payment_failed"
    assert balance(alice) == 0
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [alice.email] and "Builder" in mail.outbox[0].subject


def test_subscription_events_follow_stripes_status_but_never_backwards(alice, plan):
    CreditPlanSubscription.objects.create(user=alice, plan=plan, stripe_subscription_id="sub_1", status="active")
    subscription = {"id": "sub_1", "object": "subscription", "metadata": {}}

    signed_post(fake.event("customer.subscription.created", {**subscription, "status": "incomplete"}))
    assert CreditPlanSubscription.objects.get().status == "active"
    signed_post(fake.event("customer.subscription.updated", {**subscription, "status": "past_due"}))
    assert CreditPlanSubscription.objects.get().status == "past_due"
    signed_post(fake.event("customer.subscription.deleted", {**subscription, "status": "canceled"}))
    signed_post(fake.event("customer.subscription.updated", {**subscription, "status": "active"}))
    assert CreditPlanSubscription.objects.get().status == "canceled"


def test_the_external_account_mirrors_every_card_credit(alice):
    payment = _credited_top_up(alice, "12.34")
    wallet_credit(user=alice, amount=Decimal("1"), reference="test:other")

    external = Account.objects.get(kind=Account.Kind.EXTERNAL, user=None)
    assert external.balance == Decimal("-13.34")
    assert payment.amount == Decimal("12.34")
