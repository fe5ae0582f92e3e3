"""The wallet pages: wallet (top-up, caps, plans, history, chart), payments, statements, earnings."""

import json
from decimal import Decimal

import pytest
from django.test import Client

from billing import services as ledger
from billing import stripe_gateway
from billing.models import CreditPlan, CreditPlanSubscription, LedgerEntry, StripePayment
from billing.tests.test_statements import paid_run
from marketplace.tests.factories import listed
from orchestration.models import Execution

D = Decimal
pytestmark = pytest.mark.django_db

PAGES = ["/wallet/", "/wallet/payments/", "/wallet/statements/", "/wallet/earnings/"]


def browser(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def dev(settings):
    """Development: DEBUG on, no Stripe key: the simulated top-up exists."""
    settings.DEBUG = True
    settings.STRIPE_SECRET_KEY = ""


@pytest.fixture
def agent(alice):
    return listed(created_by=alice, slug="summariser", name="Summariser", price_per_use=D("0.5"))


@pytest.fixture
def spent(eve, agent, fund, settings):
    settings.PLATFORM_FEE_PERCENT = D("10")
    fund(eve, "10")
    return paid_run(eve, agent, price="0.5")


# --- Access ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "url"), [*(("get", url) for url in PAGES), ("post", "/wallet/top-up/"),
                                           ("post", "/wallet/top-up/simulate/"), ("post", "/wallet/caps/")])
def test_anonymous_visitors_are_sent_to_log_in(method, url, dev):
    response = getattr(browser(), method)(url, {"amount": "10", "per_run": "1"})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not LedgerEntry.objects.exists()


@pytest.mark.parametrize("url", PAGES)
def test_each_page_renders_for_a_user_with_no_money_yet(url, eve):
    response = browser(eve).get(url)

    assert response.status_code == 200
    assert b'href="/wallet/"' in response.content  # the nav link


# --- The wallet ----------------------------------------------------------------------------------------------------


def test_the_wallet_shows_balance_held_available_history_and_the_spending_chart(eve, spent):
    running = Execution.objects.create(agent=spent.agent, user=eve, status="running", input={})
    ledger.hold_place(execution=running, amount=D("0.5"))

    response = browser(eve).get("/wallet/")
    page = response.content.decode()

    assert response.context["summary"]["balance"] == D("9.5")
    assert response.context["summary"]["held"] == D("0.5")
    assert 'data-testid="wallet-available">9.00 BB<' in page and 'data-testid="wallet-balance">9.50 BB<' in page
    assert 'data-testid="wallet-held">0.50 BB<' in page
    assert f'href="/executions/{spent.pk}/"' in page  # the history links to the run
    assert "Summariser" in page and "−0.45 BB" in page and "+10.00 BB" in page
    chart = json.loads(page.split('id="wallet-spending-data" type="application/json">')[1].split("</script>")[0])
    assert len(chart["labels"]) == 30 and chart["amounts"][-1] == "0.5000"
    assert "debt-warning" not in page


def test_a_wallet_in_debt_is_warned(eve, fund):
    ledger.wallet_debit_external(user=eve, amount=D("3"), reference="dispute:test")

    page = browser(eve).get("/wallet/").content.decode()

    assert 'data-testid="debt-warning"' in page and "3.00 BB" in page


def test_coming_back_from_checkout_says_what_happens_and_credits_nothing(eve):
    success = browser(eve).get("/wallet/?topUp=success")
    cancel = browser(eve).get("/wallet/?topUp=cancel")
    default = browser(eve).get("/wallet?topUp=3f1c2a55-0000-4000-8000-000000000000&cancelled=1", follow=True)

    assert "updates as soon as Stripe confirms" in success.content.decode()
    assert "nothing was charged" in cancel.content.decode()
    assert default.redirect_chain[0][0] == "/wallet/?topUp=3f1c2a55-0000-4000-8000-000000000000&cancelled=1"
    assert "nothing was charged" in default.content.decode()
    assert not LedgerEntry.objects.exists()


def test_simulated_top_up_credits_the_wallet_in_development(eve, dev):
    page = browser(eve).get("/wallet/").content.decode()
    response = browser(eve).post("/wallet/top-up/simulate/", {"amount": "25"}, follow=True)

    assert "Simulate top-up (development only)" in page and 'action="/wallet/top-up/"' not in page
    assert response.status_code == 200
    assert ledger.account_for(user=eve).balance == D("25")
    assert "SIMULATED top-up" in response.content.decode()
    assert ledger.ledger_is_consistent()


def test_simulated_top_up_refuses_amounts_out_of_bounds(eve, dev):
    response = browser(eve).post("/wallet/top-up/simulate/", {"amount": "1000000"})

    assert response.status_code == 400
    assert response.context["top_up_form"].errors["amount"]
    assert ledger.account_for(user=eve).balance == 0


def test_without_debug_there_is_no_simulated_top_up(eve, settings):
    settings.DEBUG = False
    settings.STRIPE_SECRET_KEY = ""

    page = browser(eve).get("/wallet/").content.decode()
    response = browser(eve).post("/wallet/top-up/simulate/", {"amount": "25"})

    assert "Simulate top-up" not in page and "not configured" in page
    assert response.status_code == 404
    assert ledger.account_for(user=eve).balance == 0


def test_with_stripe_the_top_up_goes_to_checkout_and_returns_to_the_wallet(eve, settings, monkeypatch):
    settings.DEBUG = True  # a key set: no simulation, even in development
    settings.STRIPE_SECRET_KEY = "sk_test_pages"
    settings.SITE_URL = "https://hub.example"
    asked = {}
    monkeypatch.setattr(stripe_gateway, "customer_create", lambda **kw: {"id": "cus_pages"})

    def checkout(**kwargs):
        asked.update(kwargs)
        return {"id": "cs_test_pages", "url": "https://checkout.stripe.com/c/pay/cs_test_pages", "payment_intent": None}

    monkeypatch.setattr(stripe_gateway, "checkout_session_create", checkout)

    page = browser(eve).get("/wallet/").content.decode()
    response = browser(eve).post("/wallet/top-up/", {"amount": "12.50"})

    assert "Pay by card with Stripe" in page and "Simulate top-up" not in page
    assert response.status_code == 302 and response["Location"] == "https://checkout.stripe.com/c/pay/cs_test_pages"
    assert asked["amount_cents"] == 1250
    assert asked["success_url"] == "https://hub.example/wallet/?topUp=success"
    assert asked["cancel_url"] == "https://hub.example/wallet/?topUp=cancel"
    payment = StripePayment.objects.get(user=eve)
    assert (payment.status, payment.amount, payment.stripe_checkout_session) == ("pending", D("12.5"), "cs_test_pages")
    assert ledger.account_for(user=eve).balance == 0  # credited by the webhook only


def test_caps_are_saved(eve):
    response = browser(eve).post("/wallet/caps/", {"per_run": "2", "daily": "10.5", "auto_approve_threshold": "0.25"})

    wallet = ledger.account_for(user=eve)
    assert response.status_code == 302
    assert (wallet.per_run_cap, wallet.daily_cap, wallet.auto_approve_threshold) == (D("2"), D("10.5"), D("0.25"))
    browser(eve).post("/wallet/caps/", {"per_run": "", "daily": "", "auto_approve_threshold": "0"})
    wallet.refresh_from_db()
    assert (wallet.per_run_cap, wallet.daily_cap, wallet.auto_approve_threshold) == (None, None, D("0"))


@pytest.mark.parametrize(("data", "field"), [
    ({"per_run": "-1", "daily": "", "auto_approve_threshold": "1"}, "per_run"),
    ({"per_run": "", "daily": "lots", "auto_approve_threshold": "1"}, "daily"),
    ({"per_run": "", "daily": "", "auto_approve_threshold": ""}, "auto_approve_threshold"),
    ({"per_run": "0.00001", "daily": "", "auto_approve_threshold": "1"}, "per_run"),
    ({"per_run": "5", "daily": "2", "auto_approve_threshold": "1"}, "per_run"),
])
def test_caps_form_errors_are_shown_by_field_and_change_nothing(eve, data, field):
    response = browser(eve).post("/wallet/caps/", data)

    assert response.status_code == 400
    assert list(response.context["caps_form"].errors) == [field]
    assert 'id="field-' + field + '"' in response.content.decode()
    assert 'class="field field--error" id="field-' + field + '"' in response.content.decode()
    wallet = ledger.account_for(user=eve)
    assert (wallet.per_run_cap, wallet.daily_cap, wallet.auto_approve_threshold) == (None, None, D("1"))


def test_credit_plans_are_listed_and_a_subscription_cancelled(eve, settings, monkeypatch):
    settings.STRIPE_SECRET_KEY = "sk_test_pages"
    plan = CreditPlan.objects.create(name="Starter", price_cents=1000, credits=D("12"), stripe_price_id="price_s")
    subscription = CreditPlanSubscription.objects.create(user=eve, plan=plan, stripe_subscription_id="sub_eve",
                                                         status="active")
    cancelled = []
    monkeypatch.setattr(stripe_gateway, "subscription_cancel", lambda stripe_id: cancelled.append(stripe_id) or {})

    page = browser(eve).get("/wallet/").content.decode()
    response = browser(eve).post(f"/wallet/subscriptions/{subscription.pk}/cancel/", follow=True)

    assert "Starter" in page and "12.00 BB each month for 10.00 USD" in page and "Cancel plan" in page
    assert cancelled == ["sub_eve"]
    subscription.refresh_from_db()
    assert subscription.status == "canceled"
    assert "Starter cancelled" in response.content.decode()


# --- Payments, statements, earnings ----------------------------------------------------------------------------------


def test_payments_show_the_bazaarbucks_and_stripe_tables_of_the_user_only(eve, bob, spent, agent, fund):
    StripePayment.objects.create(user=eve, type="balance_load", amount=D("10"), amount_cents=1000, status="succeeded")
    StripePayment.objects.create(user=eve, type="card_spend", amount=D("0.3"), vendor="SerpAPI", agent=agent,
                                 execution=spent, status="succeeded")
    StripePayment.objects.create(user=bob, type="balance_load", amount=D("77"), amount_cents=7700, vendor="bobs-bank")

    page = browser(eve).get("/wallet/payments/").content.decode()

    assert page.count("data-entry=") == 2  # the run's agent payment and platform fee
    assert "agent_payment" in page and "platform_fee" in page and "−0.45 BB" in page and "−0.05 BB" in page
    assert "SerpAPI" in page and "card_spend" in page and "balance_load" in page and "Completed" in page
    assert "bobs-bank" not in page and "77 BB" not in page


def test_the_statement_page_shows_the_month_and_downloads_csv(eve, spent):
    page = browser(eve).get("/wallet/statements/")
    month = page.context["month"]
    download = browser(eve).get(f"/wallet/statements/?month={month.label}&format=csv")

    text = page.content.decode()
    assert 'data-testid="opening-balance">0.00 BB<' in text and "<strong>9.50 BB</strong>" in text
    assert f'href="/wallet/statements/?month={month.label}&amp;format=csv"' in text
    assert text.count("data-entry=") == 3
    assert download["Content-Disposition"] == f'attachment; filename="agenthub-statement-{month.label}.csv"'
    assert download.content.decode().splitlines()[-1].endswith(",9.5000")


@pytest.mark.parametrize("month", ["2026-13", "9999-01", "soon"])
def test_the_statement_page_explains_a_bad_month(eve, month):
    response = browser(eve).get(f"/wallet/statements/?month={month}")

    assert response.status_code == 400
    assert response.context["form"].errors["month"]
    assert 'role="alert"' in response.content.decode()


def test_creators_see_earnings_by_agent_with_a_chart(alice, spent):
    response = browser(alice).get("/wallet/earnings/")
    page = response.content.decode()

    assert 'data-testid="earnings-by-agent"' in page and 'data-agent="summariser"' in page
    assert 'data-testid="earnings-net">0.45 BB<' in page
    assert 'id="earnings-data"' in page and "js/wallet.js" in page
    assert response.context["earnings"].runs == 1


def test_earnings_have_a_friendly_empty_state_for_non_creators(eve, spent):
    page = browser(eve).get("/wallet/earnings/").content.decode()

    assert 'data-testid="earnings-empty"' in page and "Publish an agent" in page
    assert "earnings-by-agent" not in page
