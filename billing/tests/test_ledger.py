"""The ledger around runs: holds, captures split between creator and platform, releases, refunds, caps."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, connections
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from billing import services as ledger
from billing.models import Account, EntryKind, Hold, LedgerEntry, LedgerTransaction
from marketplace.tests.factories import listed
from orchestration import services as runs
from orchestration.models import Execution
from orchestration.tests.scripted_agent import Reply, ScriptedAgent

D = Decimal


@pytest.fixture
def remote(settings):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["127.0.0.1"]
    settings.EXECUTION_RETRY_BACKOFF_SECONDS = D("0.01")
    with ScriptedAgent() as server:
        yield server


@pytest.fixture
def paid_agent(alice, remote):
    return listed(created_by=alice, slug="paid", endpoint_url=remote.url, price_per_use=D("0.5000"),
                  dynamic_price=D("0.5000"))


def wallet(user) -> Account:
    return ledger.account_for(user=user)


def earnings(user) -> Account:
    return ledger.account_for(user=user, kind=Account.Kind.EARNINGS)


def platform() -> Account:
    return ledger.system_account(Account.Kind.PLATFORM)


@pytest.mark.django_db(transaction=True)
def test_a_paid_run_holds_then_captures_the_reported_cost_split_between_creator_and_platform(
    eve, alice, paid_agent, remote, fund, settings
):
    settings.PLATFORM_FEE_PERCENT = D("10")
    fund(eve, "2")
    remote.script(Reply(200, {"result": "ok", "cost": "0.3000"}))

    execution, _ = runs.execution_start(user=eve, agent=paid_agent, input={"q": 1})

    execution.refresh_from_db()
    assert execution.status == "completed"
    assert (execution.price, execution.reported_cost, execution.cost) == (D("0.5"), D("0.3"), D("0.3"))
    assert (wallet(eve).balance, wallet(eve).held) == (D("1.7"), D("0"))
    assert earnings(alice).balance == D("0.27") and platform().balance == D("0.03")
    capture = LedgerTransaction.objects.get(reference=f"capture:{execution.pk}")
    assert sorted((e.kind, e.amount) for e in capture.entries.filter(account=wallet(eve))) == [
        (EntryKind.AGENT_PAYMENT, D("-0.27")), (EntryKind.PLATFORM_FEE, D("-0.03"))]
    assert Hold.objects.get(execution=execution).status == "captured"
    assert ledger.ledger_is_consistent()


@pytest.mark.django_db(transaction=True)
def test_a_failed_run_releases_everything(eve, paid_agent, remote, fund):
    fund(eve, "1")
    remote.script(Reply(400, {"error": "no"}))

    execution, _ = runs.execution_start(user=eve, agent=paid_agent, input={})

    execution.refresh_from_db()
    assert execution.status == "failed" and execution.cost == 0
    assert (wallet(eve).balance, wallet(eve).held) == (D("1"), D("0"))
    assert Hold.objects.get(execution=execution).status == "released"
    assert not LedgerTransaction.objects.filter(execution=execution).exists()


@pytest.mark.django_db(transaction=True)
def test_a_cancelled_run_releases_its_hold(eve, paid_agent, fund, monkeypatch):
    fund(eve, "1")
    monkeypatch.setattr(runs, "_enqueue", lambda pk: None)  # no worker: it stays pending
    execution, _ = runs.execution_start(user=eve, agent=paid_agent, input={})
    assert wallet(eve).held == D("0.5")

    runs.execution_cancel(execution=execution)

    assert (wallet(eve).balance, wallet(eve).held) == (D("1"), D("0"))


@pytest.mark.django_db
def test_a_run_that_does_not_fit_is_402_and_leaves_nothing_behind(api, eve, paid_agent, fund):
    fund(eve, "0.4")

    response = api(eve).post("/api/agents/paid/execute", {"input": {}}, format="json")

    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "insufficient_funds" and "0.4000 BB is available" in error["message"]
    assert not Execution.objects.exists() and not Hold.objects.exists()
    assert wallet(eve).held == 0


@pytest.mark.django_db
def test_caps_refuse_with_402_naming_the_cap(api, eve, paid_agent, fund, monkeypatch):
    fund(eve, "10")
    monkeypatch.setattr(runs, "_enqueue", lambda pk: None)
    Account.objects.filter(pk=wallet(eve).pk).update(per_run_cap=D("0.4"))
    response = api(eve).post("/api/agents/paid/execute", {"input": {}}, format="json")
    assert response.status_code == 402 and response.json()["error"]["code"] == "per_run_cap"

    Account.objects.filter(pk=wallet(eve).pk).update(per_run_cap=None, daily_cap=D("1.0"))
    assert api(eve).post("/api/agents/paid/execute", {"input": {"n": 1}}, format="json").status_code == 202
    assert api(eve).post("/api/agents/paid/execute", {"input": {"n": 2}}, format="json").status_code == 202
    third = api(eve).post("/api/agents/paid/execute", {"input": {"n": 3}}, format="json")
    assert third.status_code == 402 and third.json()["error"]["code"] == "daily_cap"
    assert "dailyCap" in third.json()["error"]["fields"]  # camelCase under /api/


@pytest.mark.django_db(transaction=True)
def test_capture_and_refund_happen_at_most_once(eve, alice, paid_agent, remote, fund):
    fund(eve, "1")
    execution, _ = runs.execution_start(user=eve, agent=paid_agent, input={})
    assert ledger.hold_capture(execution=execution, amount=D("0.5")) == 0  # already captured: nothing more
    with pytest.raises(Exception):  # noqa: B017 - the database's unique reference is what refuses it
        ledger._post(kind=EntryKind.AGENT_PAYMENT, reference=f"capture:{execution.pk}", entries=[])

    ledger.execution_refund(execution=execution)

    assert wallet(eve).balance == D("1") and earnings(alice).balance == 0 and platform().balance == 0
    with pytest.raises(ledger.Conflict):
        ledger.execution_refund(execution=execution)
    assert ledger.ledger_is_consistent()


@pytest.mark.django_db(transaction=True)
def test_staff_refund_a_run_through_the_api(api, eve, dave, bob, paid_agent, fund):
    fund(eve, "1")
    execution, _ = runs.execution_start(user=eve, agent=paid_agent, input={})

    assert api(eve).post(f"/api/executions/{execution.pk}/refund").status_code == 403
    assert api(bob).post(f"/api/executions/{execution.pk}/refund").status_code == 404
    response = api(dave).post(f"/api/executions/{execution.pk}/refund")

    assert response.status_code == 200 and wallet(eve).balance == D("1")
    assert api(dave).post(f"/api/executions/{execution.pk}/refund").status_code == 409


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    price=st.decimals(min_value=D("0.0001"), max_value=D("1000000"), places=4),
    percent=st.decimals(min_value=D("0"), max_value=D("100"), places=2),
)
def test_share_and_fee_always_add_up_to_the_price(price, percent):
    from django.test import override_settings

    with override_settings(PLATFORM_FEE_PERCENT=percent):
        share, fee = ledger.fee_split(price)
    assert share + fee == price
    assert 0 <= fee <= price and share >= 0
    assert fee == fee.quantize(D("0.0001")) and share == share.quantize(D("0.0001"))


# --- Concurrency ---------------------------------------------------------------------------------------


def _naive_hold_place(*, execution, amount):
    """The race the real code avoids: read what is available, decide, write back."""
    account = ledger.account_for(user=execution.user)
    if account.balance - account.held >= amount:
        time.sleep(0.002)
        Account.objects.filter(pk=account.pk).update(held=account.held + amount)
        return Hold.objects.create(account=account, execution=execution, amount=amount)
    raise ledger.PaymentRequired("short")


def _hammer(executions, threads: int) -> tuple[int, int]:
    ok = refused = 0
    lock = threading.Lock()
    chunks = [executions[i::threads] for i in range(threads)]

    def work(chunk):
        nonlocal ok, refused
        for execution in chunk:
            try:
                ledger.hold_place(execution=execution, amount=D("1"))
                with lock:
                    ok += 1
            except ledger.PaymentRequired:
                with lock:
                    refused += 1
        connections.close_all()

    workers = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return ok, refused


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("naive", [False, True], ids=["conditional-update", "negative-control"])
def test_500_holds_of_1_bb_on_a_100_bb_wallet_from_32_threads(eve, paid_agent, fund, monkeypatch, naive):
    fund(eve, "100")
    executions = [Execution(user=eve, agent=paid_agent, input={}) for _ in range(500)]
    Execution.objects.bulk_create(executions)
    if naive:
        monkeypatch.setattr(ledger, "hold_place", _naive_hold_place)

    ok, refused = _hammer(executions, threads=32)

    account = wallet(eve)
    holds = Hold.objects.filter(account=account).count()
    if naive:  # without the conditional update, lost updates: more holds than the wallet's held figure
        assert holds != account.held or ok > 100, "the negative control should show the race"
        return
    assert (ok, refused) == (100, 400)
    assert account.held == D("100") == account.balance and account.available == 0
    assert holds == 100 and connection.vendor == "postgresql"
    assert ledger.ledger_is_consistent()
    assert LedgerEntry.objects.filter(account=account).count() == 1  # the top-up: holds are not movements


@pytest.mark.django_db
def test_a_top_up_pays_a_debt_before_it_lands_on_the_wallet(eve, fund):
    fund(eve, "3")
    _, owed = ledger.wallet_debit_external(user=eve, amount=D("10"), reference="stripe:dispute:dp_1")
    assert owed == D("7") and (wallet(eve).balance, wallet(eve).debt) == (D("0"), D("7"))

    ledger.wallet_credit(user=eve, amount=D("10"), reference="stripe:pi_2")

    assert (wallet(eve).balance, wallet(eve).debt) == (D("3"), D("0"))
    assert ledger.ledger_is_consistent()
