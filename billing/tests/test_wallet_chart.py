"""The wallet page's spending chart agrees with its "Spent today" figure, runs in progress included."""

import json
from decimal import Decimal

import pytest
from django.test import Client

from billing import services as ledger
from billing.tests.test_statements import paid_run
from marketplace.tests.factories import listed
from orchestration.models import Execution

D = Decimal
pytestmark = pytest.mark.django_db


def chart_of(page: str) -> dict:
    return json.loads(page.split('id="wallet-spending-data" type="application/json">')[1].split("</script>")[0])


def test_todays_bar_stacks_what_runs_in_progress_hold_so_it_reaches_spent_today(eve, alice, fund):
    # given: 1.00 paid today and 0.50 held by a run in progress: "Spent today" is 1.50
    fund(eve, "10")
    agent = listed(created_by=alice, slug="summariser", price_per_use=D("0.5"))
    paid_run(eve, agent, price="0.5")
    paid_run(eve, agent, price="0.5")
    running = Execution.objects.create(agent=agent, user=eve, status="running", input={})
    ledger.hold_place(execution=running, amount=D("0.5"))
    client = Client()
    client.force_login(eve)

    # when
    page = client.get("/wallet/").content.decode()

    # then: the two series of today's bar add up to the figure, and the figure says what it counts
    chart = chart_of(page)
    assert ledger.wallet_summary(user=eve)["spent_today"] == D("1.5")
    assert (chart["amounts"][-1], chart["held"][-1]) == ("1.0000", "0.5000")
    assert D(chart["amounts"][-1]) + D(chart["held"][-1]) == D("1.5")
    assert chart["held"][:-1] == ["0"] * 29  # holds are today's: earlier days show what was paid
    assert 'data-testid="wallet-spent-today">1.50 BB<' in page and "Counts the 0.50 BB held" in page


def test_without_runs_in_progress_nothing_is_stacked(eve, alice, fund):
    fund(eve, "10")
    paid_run(eve, listed(created_by=alice, slug="summariser", price_per_use=D("0.5")), price="0.5")
    client = Client()
    client.force_login(eve)

    page = client.get("/wallet/").content.decode()

    chart = chart_of(page)
    assert chart["amounts"][-1] == "0.5000" and set(chart["held"]) == {"0.0000", "0"}
    assert "Counts the" not in page
