"""The Stripe part of the API: top-ups, seed 004's Stripe payments, credit plans, the simulated top-up."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts import services as accounts_services
from billing.models import CreditPlan, CreditPlanSubscription, LedgerTransaction, StripePayment
from billing.services import account_for
from billing.tests import stripe_support as fake
from billing.tests.stripe_support import (  # noqa: F401  (fixtures)
    localstripe_fixture,
    localstripe_server_fixture,
    wire_stripe_fixture,
)
from marketplace.tests.factories import listed

pytestmark = pytest.mark.django_db

SEED_004_FIELDS = {"id", "agentId", "vendor", "amount", "status", "type", "createdAt"}


def with_key(user, scopes: list[str]) -> APIClient:
    _, key = accounts_services.api_key_create(user=user, name="billing test", scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


# --- POST /api/wallet/top-ups ------------------------------------------------------------------------------


def test_a_top_up_without_stripe_is_503_with_a_clear_message(api, alice, settings):
    settings.STRIPE_SECRET_KEY = ""

    answer = api(alice).post("/api/wallet/top-ups", {"amount": 10}, format="json")

    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "stripe_not_configured"
    assert "Stripe is not configured" in answer.json()["error"]["message"]
    assert not StripePayment.objects.exists()


def test_a_top_up_through_the_api_answers_a_client_secret_and_credits_nothing_yet(api, alice, localstripe):
    # when
    answer = api(alice).post("/api/wallet/top-ups", {"amount": "12.34"}, format="json")
    # then
    assert answer.status_code == 201
    body = answer.json()
    assert set(body) == {"id", "amount", "amountCents", "status", "clientSecret"}
    assert body["amount"] == 12.34 and body["amountCents"] == 1234 and body["status"] == "pending"
    payment = StripePayment.objects.get(pk=body["id"])
    assert body["clientSecret"].startswith(payment.stripe_payment_intent + "_secret_")
    assert (payment.user, payment.type, payment.amount_cents, payment.currency) == (alice, "balance_load", 1234,
                                                                                    "usd")
    assert account_for(user=alice).balance == 0


def test_a_checkout_top_up_answers_stripes_page(api, alice, wire_stripe):
    answer = api(alice).post("/api/v1/wallet/top-ups", {"amount": 20, "mode": "checkout"}, format="json")

    assert answer.status_code == 201
    body = answer.json()
    assert set(body) == {"id", "amount", "amount_cents", "status", "checkout_url"}
    assert body["checkout_url"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
    assert StripePayment.objects.get(pk=body["id"]).stripe_checkout_session in body["checkout_url"]


@pytest.mark.parametrize(("amount", "why"), [
    ("4.99", "between"), ("1000.01", "between"), ("0", "between"), ("-5", "between"),
    ("10.005", "whole cents"), ("ten", "valid number"),
])
def test_a_top_up_outside_the_bounds_or_in_fractions_of_a_cent_is_400(api, alice, localstripe, amount, why):
    answer = api(alice).post("/api/wallet/top-ups", {"amount": amount}, format="json")

    assert answer.status_code == 400
    assert "amount" in answer.json()["error"]["fields"]
    assert why in str(answer.json()["error"]).lower()
    assert not StripePayment.objects.exists()


def test_the_bounds_come_from_settings(api, alice, localstripe, settings):
    settings.TOP_UP_MIN, settings.TOP_UP_MAX = Decimal("1"), Decimal("2")

    assert api(alice).post("/api/wallet/top-ups", {"amount": "1"}, format="json").status_code == 201
    assert api(alice).post("/api/wallet/top-ups", {"amount": "2.01"}, format="json").status_code == 400


def test_an_unknown_mode_is_400(api, alice, localstripe):
    answer = api(alice).post("/api/wallet/top-ups", {"amount": 10, "mode": "cash"}, format="json")

    assert answer.status_code == 400 and "mode" in answer.json()["error"]["fields"]


def test_top_ups_need_a_signed_in_user_and_the_manage_scope(api, alice, localstripe):
    assert api().post("/api/wallet/top-ups", {"amount": 10}, format="json").status_code == 401
    assert with_key(alice, ["read", "invoke"]).post("/api/wallet/top-ups", {"amount": 10},
                                                    format="json").status_code == 403
    assert with_key(alice, ["manage"]).post("/api/wallet/top-ups", {"amount": 10}, format="json").status_code == 201


# --- GET /api/payments/stripe ----------------------------------------------------------------------------


def test_the_stripe_payments_list_has_seed_004s_shape_exactly(api, alice, bob, settings):
    # given: a top-up paid and credited, one pending, and an external tool's cost on a run
    settings.STRIPE_WEBHOOK_SECRET = fake.SECRET
    agent = listed(created_by=bob, name="Web Searcher")
    paid = fake.pending_top_up(alice, "10")
    fake.signed_post(fake.event("payment_intent.succeeded", fake.payment_intent(paid)))
    fake.pending_top_up(alice, "5")
    StripePayment.objects.create(user=alice, type="card_spend", amount=Decimal("0.0250"), vendor="SerpAPI",
                                 agent=agent, status="succeeded")
    # when
    answer = api(alice).get("/api/payments/stripe")
    # then
    assert answer.status_code == 200
    rows = answer.json()
    assert len(rows) == 3 and all(set(row) == SEED_004_FIELDS for row in rows)
    spend = next(row for row in rows if row["type"] == "card_spend")
    assert spend["agentId"] == agent.slug and spend["vendor"] == "SerpAPI" and spend["amount"] == 0.025
    assert spend["status"] == "completed"
    loads = [row for row in rows if row["type"] == "balance_load"]
    assert sorted((row["amount"], row["status"]) for row in loads) == [(5, "pending"), (10, "completed")]
    assert all(row["agentId"] is None and row["vendor"] == "stripe" for row in loads)
    snake = api(alice).get("/api/v1/payments/stripe").json()
    assert all(set(row) == {"id", "agent_id", "vendor", "amount", "status", "type", "created_at"} for row in snake)


def test_another_users_stripe_payments_never_show(api, alice, bob):
    fake.pending_top_up(alice, "10")
    mine = fake.pending_top_up(bob, "7")

    listed_for_bob = api(bob).get("/api/payments/stripe", {"type": "balance_load", "user": alice.pk}).json()

    assert [row["id"] for row in listed_for_bob] == [str(mine.pk)]
    assert api().get("/api/payments/stripe").status_code == 401


def test_the_stripe_payments_list_filters_by_type(api, alice):
    fake.pending_top_up(alice, "10")
    StripePayment.objects.create(user=alice, type="card_spend", amount=Decimal("1"), vendor="Tool")

    rows = api(alice).get("/api/payments/stripe", {"type": "card_spend"}).json()

    assert [row["type"] for row in rows] == ["card_spend"]


# --- Simulated top-ups (development only) ---------------------------------------------------------------------


def test_in_development_without_stripe_a_simulated_top_up_credits_through_the_ledger(api, alice, settings):
    settings.DEBUG = True
    settings.STRIPE_SECRET_KEY = ""

    answer = api(alice).post("/api/wallet/top-ups/simulate", {"amount": "25"}, format="json")

    assert answer.status_code == 201
    body = answer.json()
    assert body["simulated"] is True and body["amount"] == 25 and body["balance"] == 25
    assert "SIMULATED" in body["memo"] and "no card was charged" in body["memo"]
    posted = LedgerTransaction.objects.get(pk=body["id"])
    assert posted.kind == "top_up" and posted.reference.startswith("simulated-top-up:")
    assert account_for(user=alice).balance == Decimal("25")
    assert not StripePayment.objects.exists()


@pytest.mark.parametrize(("debug", "key"), [(False, ""), (False, "sk_test_x"), (True, "sk_test_x")])
def test_the_simulated_top_up_does_not_exist_outside_development(api, alice, settings, debug, key):
    settings.DEBUG = debug
    settings.STRIPE_SECRET_KEY = key

    for client in (api(alice), api()):
        answer = client.post("/api/wallet/top-ups/simulate", {"amount": "25"}, format="json")
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    assert account_for(user=alice).balance == 0


def test_the_simulated_top_up_keeps_the_bounds(api, alice, settings):
    settings.DEBUG = True
    settings.STRIPE_SECRET_KEY = ""

    assert api(alice).post("/api/wallet/top-ups/simulate", {"amount": "100000"}, format="json").status_code == 400


# --- Credit plans ---------------------------------------------------------------------------------------------


@pytest.fixture
def plans(db):
    return [
        CreditPlan.objects.create(name="Starter", price_cents=1000, credits=Decimal("10"), stripe_price_id="price_s"),
        CreditPlan.objects.create(name="Builder", price_cents=2000, credits=Decimal("22"), stripe_price_id="price_b"),
        CreditPlan.objects.create(name="Retired", price_cents=500, credits=Decimal("5"), active=False),
    ]


def test_the_credit_plans_are_a_public_price_list_of_active_plans(api, plans):
    answer = api().get("/api/billing/plans")

    assert answer.status_code == 200
    assert [(p["name"], p["priceCents"], p["credits"]) for p in answer.json()] == [("Starter", 1000, 10),
                                                                                    ("Builder", 2000, 22)]
    assert api().get(f"/api/billing/plans/{plans[2].pk}").status_code == 404


def test_subscribing_without_stripe_is_503_and_anonymous_is_401(api, alice, plans, settings):
    settings.STRIPE_SECRET_KEY = ""

    assert api().post(f"/api/billing/plans/{plans[0].pk}/subscribe", {}, format="json").status_code == 401
    assert api(alice).post(f"/api/billing/plans/{plans[0].pk}/subscribe", {}, format="json").status_code == 503


def test_subscribing_from_the_page_answers_stripes_checkout_page(api, alice, plans, wire_stripe):
    answer = api(alice).post(f"/api/billing/plans/{plans[1].pk}/subscribe", {}, format="json")

    assert answer.status_code == 201
    assert answer.json()["checkoutUrl"].startswith("https://checkout.stripe.com/")
    form = wire_stripe.requests[-1]["form"]
    assert form["mode"] == "subscription" and form["line_items[0][price]"] == "price_b"
    assert form["subscription_data[metadata][user]"] == str(alice.pk)


def test_subscribe_with_a_card_then_list_and_cancel_through_the_api(api, alice, bob, localstripe):
    # given: a plan known to Stripe
    plan = CreditPlan.objects.create(name="Builder", price_cents=2000, credits=Decimal("22"))
    from billing.stripe_services import credit_plan_sync

    credit_plan_sync(plan=plan)
    # when
    answer = api(alice).post(f"/api/billing/plans/{plan.pk}/subscribe",
                             {"paymentMethod": fake.card(localstripe, "4242424242424242")}, format="json")
    # then
    assert answer.status_code == 201
    subscription = answer.json()["subscription"]
    assert subscription["status"] == "active" and subscription["plan"]["name"] == "Builder"
    assert [s["id"] for s in api(alice).get("/api/billing/subscriptions").json()] == [subscription["id"]]
    assert api(bob).get("/api/billing/subscriptions").json() == []
    assert api(bob).post(f"/api/billing/subscriptions/{subscription['id']}/cancel").status_code == 404
    # when she cancels
    canceled = api(alice).post(f"/api/billing/subscriptions/{subscription['id']}/cancel")
    # then
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert CreditPlanSubscription.objects.get().status == "canceled"
    # and subscribing again is possible once the old one is canceled
    again = api(alice).post(f"/api/billing/plans/{plan.pk}/subscribe",
                            {"paymentMethod": fake.card(localstripe, "4242424242424242")}, format="json")
    assert again.status_code == 201


def test_a_plan_that_stripe_does_not_know_yet_cannot_be_subscribed(api, alice, localstripe):
    plan = CreditPlan.objects.create(name="Unsynced", price_cents=2000, credits=Decimal("22"))

    answer = api(alice).post(f"/api/billing/plans/{plan.pk}/subscribe", {}, format="json")

    assert answer.status_code == 409 and answer.json()["error"]["code"] == "plan_unavailable"


def test_subscribing_needs_the_manage_scope(alice, plans, localstripe):
    answer = with_key(alice, ["read", "invoke"]).post(f"/api/billing/plans/{plans[0].pk}/subscribe", {},
                                                      format="json")

    assert answer.status_code == 403
