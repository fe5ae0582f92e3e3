"""The wallet in a real browser: a simulated top-up, the balance and its entry, a spend cap, the
statement and its CSV download, payments and earnings (with screenshots of each page)."""

import csv
import io
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

from billing import services as ledger
from billing import statements
from billing.models import StripePayment
from billing.tests.test_statements import backdate, last_references, paid_run
from marketplace.tests.factories import listed

# Playwright's sync API runs an event loop in this thread; the ORM calls around it stay synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

D = Decimal
SHOTS = Path(os.environ.get("WALLET_SHOTS", "/tmp/shots"))


def sign_in(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    page.context.add_cookies([{
        "name": django_settings.SESSION_COOKIE_NAME, "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
        "url": live_server.url,
    }])


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / f"wallet-{name}.png"), full_page=True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_top_up_set_a_cap_and_download_the_statement(live_server, browser_page, settings, alice, bob, fund):
    settings.DEBUG = True  # development without a Stripe key: the simulated top-up exists
    settings.STRIPE_SECRET_KEY = ""
    settings.PLATFORM_FEE_PERCENT = D("10")
    # alice publishes an agent bob runs (her earnings, this month and last), and runs bob's agent herself.
    mine = listed(created_by=alice, slug="summariser", name="Summariser", price_per_use=D("0.5"))
    theirs = listed(created_by=bob, slug="translator", name="Translator", price_per_use=D("2"))
    fund(bob, "20")
    paid_run(bob, mine, price="0.5")
    backdate(statements.month_current().preceding().start + timedelta(days=5), *last_references(1))
    paid_run(bob, mine, price="0.5")
    paid_run(bob, mine, price="0.5", cost="0.3")
    page = browser_page
    sign_in(page, live_server, alice)

    # Simulate a top-up: the balance and the entry show.
    page.goto(f"{live_server.url}/wallet/")
    assert page.get_by_test_id("wallet-balance").inner_text() == "0.00 BB"
    page.get_by_test_id("simulate-form").get_by_label("Amount (BB)").fill("25")
    page.get_by_test_id("simulate-top-up").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("wallet-balance").inner_text() == "25.00 BB"
    assert "Simulated top-up of 25.00 BB" in page.locator(".messages").inner_text()
    history = page.get_by_test_id("wallet-history")
    assert "SIMULATED top-up" in history.inner_text() and "+25.00 BB" in history.inner_text()

    # A run of bob's agent, a card spend and a pending card payment, for the history and the payments page.
    run = paid_run(alice, theirs, price="2", cost="1.5")
    StripePayment.objects.create(user=alice, type="card_spend", amount=D("0.2"), vendor="SerpAPI", agent=theirs,
                                 execution=run, status="succeeded")
    StripePayment.objects.create(user=alice, type="balance_load", amount=D("50"), amount_cents=5000)

    # A cap, with a mistake first: the error is shown by the field, then saved.
    page.goto(f"{live_server.url}/wallet/")
    caps = page.get_by_test_id("caps-form")
    caps.get_by_label("Per-run cap (BB)").fill("5")
    caps.get_by_label("Daily cap (BB)").fill("2")
    caps.get_by_role("button", name="Save caps").click()
    page.wait_for_load_state()
    assert "cannot be above the daily cap" in page.locator("#field-per_run .error").inner_text()
    caps = page.get_by_test_id("caps-form")
    caps.get_by_label("Per-run cap (BB)").fill("1.5")
    caps.get_by_label("Daily cap (BB)").fill("10")
    caps.get_by_role("button", name="Save caps").click()
    page.wait_for_load_state()
    assert "Spend caps saved." in page.locator(".messages").inner_text()
    wallet = ledger.account_for(user=alice)
    assert (wallet.per_run_cap, wallet.daily_cap) == (D("1.5"), D("10"))
    assert page.get_by_test_id("wallet-balance").inner_text() == "23.50 BB"
    assert f"/executions/{run.pk}/" in page.get_by_test_id("wallet-history").inner_html()
    page.wait_for_function("document.querySelector('canvas[data-chart=wallet-spending]').width > 0")
    shoot(page, "wallet")

    page.goto(f"{live_server.url}/wallet/payments/")
    assert "Translator" in page.get_by_test_id("bb-payments").inner_text()
    assert "SerpAPI" in page.get_by_test_id("stripe-payments").inner_text()
    shoot(page, "payments")

    # The statement: opening + entries = closing, and its CSV.
    page.goto(f"{live_server.url}/wallet/statements/")
    assert page.get_by_test_id("opening-balance").inner_text() == "0.00 BB"
    assert page.get_by_test_id("closing-balance").inner_text() == "23.50 BB"
    with page.expect_download() as download_info:
        page.get_by_test_id("statement-csv").click()
    download = download_info.value
    month = statements.month_current().label
    assert download.suggested_filename == f"agenthub-statement-{month}.csv"
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text())))
    assert rows[0][0] == "date" and rows[-1][1:3] == ["closing_balance", "Closing balance"]
    assert rows[-1][-1] == "23.5000"
    shoot(page, "statements")

    # Earnings: alice's agent, by month (chart) and this month (table).
    page.goto(f"{live_server.url}/wallet/earnings/")
    table = page.get_by_test_id("earnings-by-agent").inner_text()
    assert "Summariser" in table and "0.72 BB" in table  # 0.45 + 0.27
    page.wait_for_function("document.querySelector('canvas[data-chart=earnings]').width > 0")
    shoot(page, "earnings")
