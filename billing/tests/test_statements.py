"""Monthly statements and creator earnings: the arithmetic, the JSON and CSV API, months, privacy."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing import services as ledger
from billing import statements
from billing.models import Account, LedgerEntry, LedgerTransaction
from marketplace.tests.factories import listed
from orchestration.models import Execution

D = Decimal
pytestmark = pytest.mark.django_db


def paid_run(user, agent, *, price: str, cost: str | None = None) -> Execution:
    """A run the way the runtime charges it: a hold for the price, then the capture (split creator/platform)."""
    execution = Execution.objects.create(agent=agent, user=user, status="completed", input={"q": 1})
    ledger.hold_place(execution=execution, amount=D(price))
    ledger.hold_capture(execution=execution, amount=D(cost) if cost else None)
    return execution


def backdate(when: datetime, *references: str) -> None:
    """Move transactions (and their entries) to `when`: the ledger's history, as if written then."""
    txs = LedgerTransaction.objects.filter(reference__in=references)
    assert txs.count() == len(references)
    txs.update(created_at=when)
    LedgerEntry.objects.filter(transaction__in=txs).update(created_at=when)


def last_references(n: int) -> list[str]:
    return list(LedgerTransaction.objects.order_by("-created_at").values_list("reference", flat=True)[:n])


@pytest.fixture
def fees(settings):
    settings.PLATFORM_FEE_PERCENT = D("10")


@pytest.fixture
def agents(alice):
    return (listed(created_by=alice, slug="summariser", name="Summariser", price_per_use=D("0.5")),
            listed(created_by=alice, slug="translator", name="Translator", price_per_use=D("2")))


@pytest.fixture
def history(eve, agents, fund, fees):
    """eve's wallet over two months: last month a top-up of 10 and a 0.5 run; this month a top-up of 5,
    a 2 BB run reporting 1.25, and a refunded 0.5 run."""
    summariser, translator = agents
    this = statements.month_current()
    last = this.preceding()
    fund(eve, "10")
    paid_run(eve, summariser, price="0.5")
    backdate(last.start + timedelta(days=2, hours=3), *last_references(2))
    fund(eve, "5")
    paid_run(eve, translator, price="2", cost="1.25")
    refunded = paid_run(eve, summariser, price="0.5")
    ledger.execution_refund(execution=refunded, memo="the answer was empty")
    return last, this


# --- Months --------------------------------------------------------------------------------------------------


def test_months_parse_and_refuse_bad_or_future_values():
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)

    assert statements.month_parse("2026-02", now=now) == statements.Month(2026, 2)
    assert statements.month_parse("", now=now) == statements.Month(2026, 11)
    assert statements.month_parse(None, now=now).label == "2026-11"
    assert statements.Month(2026, 1).preceding() == statements.Month(2025, 12)
    assert statements.Month(2025, 12).following() == statements.Month(2026, 1)
    assert statements.Month(2025, 12).end == datetime(2026, 1, 1, tzinfo=UTC)
    for bad in ("2026-13", "2026-00", "nov", "2026-1", "2026/11", "2026-11-01", "0000-05"):
        with pytest.raises(statements.InvalidInput) as refused:
            statements.month_parse(bad, now=now)
        assert "month" in refused.value.fields, bad
    with pytest.raises(statements.InvalidInput, match="future"):
        statements.month_parse("2026-12", now=now)


@pytest.mark.parametrize("month", ["2026-13", "last", "2026-1", "9999-01"])
def test_a_bad_month_is_a_400_naming_the_field_in_json_and_csv(api, eve, month):
    for url in (f"/api/billing/statements?month={month}", f"/api/billing/statements?month={month}&format=csv",
                f"/api/billing/earnings?month={month}"):
        response = api(eve).get(url)

        assert response.status_code == 400, url
        assert response["Content-Type"].startswith("application/json")
        assert "month" in response.json()["error"]["fields"]


# --- The arithmetic -------------------------------------------------------------------------------------------


def test_opening_plus_entries_is_closing_across_a_month_boundary(eve, history):
    last, this = history
    wallet = ledger.account_for(user=eve)

    before = statements.statement_for(user=eve, month=last)
    now = statements.statement_for(user=eve, month=this)

    assert (before.opening_balance, before.closing_balance) == (D("0"), D("9.5"))
    assert sorted((e.kind, e.amount) for e in before.entries) == [  # backdated together: same instant
        ("agent_payment", D("-0.45")), ("platform_fee", D("-0.05")), ("top_up", D("10"))]
    assert now.opening_balance == before.closing_balance
    assert now.closing_balance == now.opening_balance + sum(e.amount for e in now.entries)
    assert now.closing_balance == wallet.balance == D("13.25")  # 9.5 + 5 - 1.25 - 0.5 + 0.5
    assert now.entries[-1].balance_after == now.closing_balance
    totals = {t.kind: (t.count, t.amount) for t in now.totals}
    assert totals == {"top_up": (1, D("5")), "agent_payment": (2, D("-1.575")), "platform_fee": (2, D("-0.175")),
                      "refund": (2, D("0.5"))}
    assert (now.credits, now.debits) == (D("5.5"), D("-1.75"))
    assert statements.statement_for(user=eve, month=last.preceding()).closing_balance == D("0")
    assert ledger.ledger_is_consistent()


def test_the_statement_api_answers_json_in_both_dialects(api, eve, history):
    last, this = history

    camel = api(eve).get(f"/api/billing/statements?month={last.label}").json()
    snake = api(eve).get(f"/api/v1/billing/statements?month={last.label}").json()
    current = api(eve).get("/api/billing/statements").json()

    assert camel["month"] == last.label and camel["currency"] == "BB"
    assert (camel["openingBalance"], camel["closingBalance"]) == (0.0, 9.5)
    assert {"balanceAfter", "executionId", "agentId", "createdAt"} <= set(camel["entries"][0])
    assert snake["closing_balance"] == 9.5 and "balance_after" in snake["entries"][0]
    assert current["month"] == this.label and current["openingBalance"] == 9.5
    assert current["closingBalance"] == 13.25
    assert current["earnings"] is None  # eve has no agents
    assert b'"closingBalance":13.2500' in api(eve).get("/api/billing/statements").content  # exact digits


def test_the_statement_downloads_as_csv_with_exact_amounts(api, eve, history):
    last, _ = history

    by_format = api(eve).get(f"/api/billing/statements?month={last.label}&format=csv")
    by_accept = api(eve).get(f"/api/billing/statements?month={last.label}", HTTP_ACCEPT="text/csv")

    for response in (by_format, by_accept):
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert response["Content-Disposition"] == f'attachment; filename="agenthub-statement-{last.label}.csv"'
    rows = list(csv.reader(io.StringIO(by_format.content.decode())))
    assert rows[0] == ["date", "kind", "description", "reference", "agent", "execution", "amount", "balance_after"]
    assert rows[1][1:3] == ["opening_balance", "Opening balance"] and rows[1][-1] == "0.0000"
    assert rows[-1][1] == "closing_balance" and rows[-1][-1] == "9.5000"
    body = rows[2:-1]
    assert sorted(row[-2] for row in body) == ["-0.0500", "-0.4500", "10.0000"]
    assert {row[4] for row in body if row[1] != "top_up"} == {"summariser"}
    assert body[-1][-1] == "9.5000"
    assert by_accept.content == by_format.content


# --- Creators -----------------------------------------------------------------------------------------------------


def test_creators_see_their_earnings_by_agent_and_month(api, alice, eve, history, agents):
    last, this = history

    now = statements.earnings_for(user=alice, month=this)
    before = statements.earnings_for(user=alice, month=last)

    rows = {a.slug: (a.runs, a.earned, a.refunded, a.net) for a in now.agents}
    assert rows == {"translator": (1, D("1.125"), D("0"), D("1.125")),
                    "summariser": (1, D("0.45"), D("-0.45"), D("0"))}
    assert [(a.slug, a.runs, a.net) for a in before.agents] == [("summariser", 1, D("0.45"))]
    assert now.net + before.net == ledger.account_for(user=alice, kind=Account.Kind.EARNINGS).balance
    by_month = dict(statements.earnings_by_month(user=alice, months=[last, this]))
    assert by_month == {last: D("0.45"), this: D("1.125")}

    body = api(alice).get(f"/api/billing/earnings?month={this.label}").json()
    assert body["net"] == 1.125 and body["runs"] == 2
    assert body["agents"][0] == {"agentId": "translator", "agentName": "Translator", "runs": 1, "subscriptions": 0,
                                 "earned": 1.125, "refunded": 0.0, "net": 1.125}
    statement = api(alice).get(f"/api/billing/statements?month={this.label}").json()
    assert statement["earnings"]["net"] == 1.125
    earnings = api(alice).get(f"/api/v1/billing/earnings?month={this.label}").json()
    assert earnings["agents"][1]["agent_id"] == "summariser"


def test_users_without_agents_get_empty_earnings(api, eve, history):
    body = api(eve).get("/api/billing/earnings").json()

    assert body["agents"] == [] and body["net"] == 0


# --- Privacy -------------------------------------------------------------------------------------------------------


def test_another_users_money_never_appears(api, alice, bob, eve, history, agents, fund):
    _, this = history
    fund(bob, "7")
    bobs_run = paid_run(bob, agents[1], price="2")
    bobs_entries = {str(pk) for pk in LedgerEntry.objects.filter(account__user=bob).values_list("pk", flat=True)}

    eves = api(eve).get(f"/api/billing/statements?month={this.label}").json()
    eves_csv = api(eve).get(f"/api/billing/statements?month={this.label}&format=csv").content.decode()
    bobs = statements.statement_for(user=bob, month=this)
    alices_earnings = statements.earnings_for(user=alice, month=this)

    assert {e["id"] for e in eves["entries"]}.isdisjoint(bobs_entries)
    assert str(bobs_run.pk) not in eves_csv and str(bobs_run.pk) not in str(eves)
    assert bobs.closing_balance == D("5") and {e.transaction.execution_id for e in bobs.entries} >= {bobs_run.pk}
    eves_runs = {e.transaction.execution_id for e in statements.statement_for(user=eve, month=this).entries}
    assert bobs_run.pk not in eves_runs
    # bob's run of alice's agent is alice's earning, and counted once; bob's wallet is not alice's business
    assert next(a for a in alices_earnings.agents if a.slug == "translator").runs == 2
    assert api(bob).get("/api/billing/earnings").json()["agents"] == []
    assert api(None).get("/api/billing/statements").status_code in (401, 403)
