"""External tool costs (seed 004's card_spend): an agent's reply reports `externalCost`, and the run
charges it to the user in BB, out of the run's hold, recorded as a StripePayment with the vendor."""

from decimal import Decimal

import pytest

from billing import services as ledger
from billing.models import Account, EntryKind, Hold, LedgerTransaction, StripePayment
from marketplace.tests.factories import listed
from orchestration import services as runs
from orchestration.tests.scripted_agent import Reply, ScriptedAgent

D = Decimal


@pytest.fixture
def remote(settings):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["127.0.0.1"]
    settings.EXECUTION_RETRY_BACKOFF_SECONDS = D("0.01")
    settings.PLATFORM_FEE_PERCENT = D("10")
    with ScriptedAgent() as server:
        yield server


@pytest.fixture
def tool_agent(alice, remote):
    return listed(created_by=alice, slug="searcher", endpoint_url=remote.url, price_per_use=D("0.5000"),
                  dynamic_price=D("0.5000"))


def wallet(user) -> Account:
    return ledger.account_for(user=user)


def external() -> Account:
    return ledger.system_account(Account.Kind.EXTERNAL)


def reply(cost="0.3000", external_cost="0.1000", **extra) -> Reply:
    return Reply(200, {"result": "found", "cost": cost, "externalCost": external_cost,
                       "requiresExternalTool": True, "externalVendor": "SerpAPI", **extra})


@pytest.mark.django_db(transaction=True)
def test_a_reported_external_cost_is_charged_to_the_user_as_card_spend_with_the_vendor(
    eve, alice, tool_agent, remote, fund
):
    fund(eve, "2")
    remote.script(reply())

    execution, _ = runs.execution_start(user=eve, agent=tool_agent, input={"q": "news"})

    execution.refresh_from_db()
    assert execution.status == "completed" and execution.cost == D("0.4")  # price 0.3 + external 0.1
    assert (wallet(eve).balance, wallet(eve).held) == (D("1.6"), D("0"))
    assert ledger.account_for(user=alice, kind=Account.Kind.EARNINGS).balance == D("0.27")
    assert ledger.system_account(Account.Kind.PLATFORM).balance == D("0.03")
    assert external().balance == D("-2") + D("0.1")  # the top-up came from outside; the tool's cost went back out
    spend = StripePayment.objects.get(type=StripePayment.Type.CARD_SPEND)
    assert (spend.user, spend.amount, spend.vendor, spend.status, spend.agent, spend.execution) == (
        eve, D("0.1"), "SerpAPI", "succeeded", tool_agent, execution)
    posted = LedgerTransaction.objects.get(reference=f"card_spend:{execution.pk}")
    assert posted.kind == EntryKind.CARD_SPEND and posted.agent == tool_agent
    assert sorted(posted.entries.values_list("amount", flat=True)) == [D("-0.1"), D("0.1")]
    hold = Hold.objects.get(execution=execution)
    assert (hold.status, hold.captured) == ("captured", D("0.4"))
    assert ledger.ledger_is_consistent()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("cost", "external_cost", "charged_external", "charged_price"), [
    ("0.5000", "0.2000", "0.2", "0.3"),  # both fit only together: the price gets what the tool left
    ("0.3000", "0.7000", "0.5", "0"),  # the tool alone is more than the hold: the hold, no more
])
def test_the_external_cost_never_goes_beyond_the_hold(eve, tool_agent, remote, fund, cost, external_cost,
                                                      charged_external, charged_price):
    fund(eve, "2")
    remote.script(reply(cost=cost, external_cost=external_cost))

    execution, _ = runs.execution_start(user=eve, agent=tool_agent, input={})

    execution.refresh_from_db()
    assert execution.cost == D("0.5") == D(charged_external) + D(charged_price)
    assert (wallet(eve).balance, wallet(eve).held) == (D("1.5"), D("0"))
    assert StripePayment.objects.get(type="card_spend").amount == D(charged_external)
    assert LedgerTransaction.objects.filter(reference=f"capture:{execution.pk}").exists() == (charged_price != "0")
    assert ledger.ledger_is_consistent()


@pytest.mark.django_db(transaction=True)
def test_a_failed_run_charges_no_external_cost(eve, tool_agent, remote, fund):
    fund(eve, "1")
    remote.script(Reply(200, {"status": "failed", "error": "tool down", "externalCost": "0.1"}))

    execution, _ = runs.execution_start(user=eve, agent=tool_agent, input={})

    execution.refresh_from_db()
    assert execution.status == "failed" and execution.cost == 0
    assert (wallet(eve).balance, wallet(eve).held) == (D("1"), D("0"))
    assert not StripePayment.objects.filter(type="card_spend").exists()


@pytest.mark.django_db(transaction=True)
def test_a_malformed_external_cost_fails_the_run_and_charges_nothing(eve, tool_agent, remote, fund):
    fund(eve, "1")
    remote.script(reply(external_cost="a lot"))

    execution, _ = runs.execution_start(user=eve, agent=tool_agent, input={})

    execution.refresh_from_db()
    assert execution.status == "failed" and execution.error_code == "malformed_reply"
    assert (wallet(eve).balance, wallet(eve).held) == (D("1"), D("0"))
    assert not StripePayment.objects.filter(type="card_spend").exists()


@pytest.mark.django_db(transaction=True)
def test_the_external_cost_is_charged_once_and_a_refund_gives_back_only_the_agent_price(
    eve, tool_agent, remote, fund
):
    fund(eve, "2")
    remote.script(reply())
    execution, _ = runs.execution_start(user=eve, agent=tool_agent, input={})

    assert ledger.hold_capture(execution=execution, amount=D("0.3"), external_cost=D("0.1"), vendor="x") == 0
    ledger.execution_refund(execution=execution)

    # The vendor was paid outside: the refund reverses the agent's charge, not the tool's.
    assert wallet(eve).balance == D("1.9")
    assert StripePayment.objects.filter(type="card_spend").count() == 1
    assert LedgerTransaction.objects.filter(kind=EntryKind.CARD_SPEND).count() == 1
    assert ledger.ledger_is_consistent()


@pytest.mark.django_db(transaction=True)
def test_a_run_without_an_external_cost_is_charged_as_before(eve, tool_agent, remote, fund):
    fund(eve, "1")
    remote.script(Reply(200, {"result": "ok", "cost": "0.3000"}))

    execution, _ = runs.execution_start(user=eve, agent=tool_agent, input={})

    execution.refresh_from_db()
    assert execution.cost == D("0.3") and wallet(eve).balance == D("0.7")
    assert not StripePayment.objects.filter(type="card_spend").exists()
