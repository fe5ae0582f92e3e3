"""From the marketplace, through search, to an agent's page, in a real browser."""

import os
from decimal import Decimal

import pytest

from marketplace.choices import PricingModel
from marketplace.tests.factories import listed

# Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
# around it are still synchronous and safe.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_search_then_open_an_agent(live_server, browser_page, artifacts, alice):
    # given
    listed(created_by=alice, slug="contract-scout", name="Contract Scout",
           short_description="Flags risky clauses in supplier contracts.",
           problem_statement="Legal reviews every contract by hand and misses renewal traps.",
           business_domain="legal", skills=["contract-review"], rating=4.7, rating_count=31)
    listed(created_by=alice, slug="pixel-tagger", name="Pixel Tagger", short_description="Labels product photos.",
           description="Tags images for the catalog.", business_domain="retail", skills=["vision"],
           pricing_model=PricingModel.FREE, price_per_use=Decimal("0"))
    listed(created_by=alice, slug="ledger-lens", name="Ledger Lens", short_description="Reconciles bank statements.",
           description="Matches ledger lines.", business_domain="finance", skills=["reconciliation"])
    page = browser_page

    # when
    page.goto(f"{live_server.url}/")
    assert page.locator("[data-agent]").count() == 3
    page.get_by_role("searchbox", name="Search agents").fill("contract")
    page.get_by_test_id("search-submit").click()
    page.wait_for_url("**/?q=contract*")
    cards = page.locator("[data-agent]")
    assert cards.count() == 1
    page.get_by_role("link", name="Contract Scout").click()
    page.wait_for_url("**/agents/contract-scout/")

    # then
    assert page.get_by_role("heading", level=1).inner_text() == "Contract Scout"
    assert "misses renewal traps" in page.get_by_test_id("problem-statement").inner_text()
    assert page.get_by_test_id("view-count").inner_text() == "1"
    page.screenshot(path=str(artifacts / "marketplace-agent-detail.png"), full_page=True)
