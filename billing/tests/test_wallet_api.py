"""The wallet API: balance and caps, the ledger, and seed 004's BazaarBucks payments."""

from decimal import Decimal

import pytest

from billing import services as ledger
from marketplace.tests.factories import listed
from orchestration import services as runs
from orchestration.tests.scripted_agent import Reply, ScriptedAgent

D = Decimal


def test_a_new_wallet_is_empty_and_in_bazaarbucks(api, eve):
    body = api(eve).get("/api/wallet").json()
    assert body == {"balance": 0, "held": 0, "available": 0, "debt": 0, "blocked": False, "spentToday": 0,
                    "currency": "BB", "caps": {"perRun": None, "daily": None, "autoApproveThreshold": 1}}
    assert api().get("/api/wallet").status_code == 401


def test_caps_are_set_kept_and_removed(api, eve):
    response = api(eve).patch("/api/wallet", {"caps": {"perRun": "0.5", "daily": "5"}}, format="json")
    assert response.status_code == 200 and response.json()["caps"]["perRun"] == 0.5
    response = api(eve).patch("/api/wallet", {"caps": {"daily": None}}, format="json")
    assert response.json()["caps"] == {"perRun": 0.5, "daily": None, "autoApproveThreshold": 1}
    bad = api(eve).patch("/api/wallet", {"caps": {"perRun": "-1"}}, format="json")
    assert bad.status_code == 400 and "caps" in bad.json()["error"]["fields"]
    snake = api(eve).patch("/api/v1/wallet", {"caps": {"auto_approve_threshold": "2"}}, format="json")
    assert snake.json()["caps"]["auto_approve_threshold"] == 2


@pytest.mark.django_db(transaction=True)
def test_entries_and_payments_show_a_paid_run_to_its_runner_only(api, eve, bob, alice, fund, settings):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["127.0.0.1"]
    fund(eve, "1")
    with ScriptedAgent() as remote:
        remote.script(Reply(200, {"result": "ok"}))
        agent = listed(created_by=alice, slug="paid", endpoint_url=remote.url, price_per_use=D("0.2"),
                       dynamic_price=D("0.2"))
        execution, _ = runs.execution_start(user=eve, agent=agent, input={})
    ledger.execution_refund(execution=execution)

    entries = api(eve).get("/api/wallet/entries").json()
    assert sorted(entry["kind"] for entry in entries) == [
        "agent_payment", "platform_fee", "refund", "refund", "top_up"]
    assert sum(D(str(entry["amount"])) for entry in entries) == D("1")
    assert [e["kind"] for e in api(eve).get("/api/wallet/entries?kind=top_up").json()] == ["top_up"]

    payments = api(eve).get("/api/payments/bazaarbucks").json()
    assert {tuple(sorted(p)) for p in payments} == {("agentId", "amount", "createdAt", "id", "taskId", "type")}
    assert sorted((p["type"], p["amount"]) for p in payments) == [
        ("agent_payment", 0.18), ("platform_fee", 0.02), ("refund", 0.02), ("refund", 0.18)]
    assert all(p["agentId"] == "paid" for p in payments)
    assert api(bob).get("/api/payments/bazaarbucks").json() == []
    assert api(bob).get("/api/wallet/entries").json() == []


@pytest.mark.django_db
def test_notices_at_85_and_100_percent_of_the_daily_cap_once_a_day(api, eve, bob, alice, fund, monkeypatch):
    monkeypatch.setattr(runs, "_enqueue", lambda pk: None)  # the runs stay pending: their holds count
    fund(eve, "10")
    listed(created_by=alice, slug="paid", price_per_use=D("0.45"), dynamic_price=D("0.45"))
    api(eve).patch("/api/wallet", {"caps": {"daily": "1"}}, format="json")

    api(eve).post("/api/agents/paid/execute", {"input": {"n": 1}}, format="json")  # 45 %: nothing
    assert api(eve).get("/api/wallet/notices").json() == []
    api(eve).post("/api/agents/paid/execute", {"input": {"n": 2}}, format="json")  # 90 %

    (notice,) = api(eve).get("/api/wallet/notices").json()
    assert notice["percent"] == 85 and "85 % of your daily cap of 1.0000 BB" in notice["message"]
    assert api(eve).post("/api/agents/paid/execute", {"input": {"n": 3}}, format="json").status_code == 402
    ledger.wallet_caps_set(user=eve, daily=D("0.9"))
    ledger.cap_notices_record(wallet=ledger.account_for(user=eve), spent=D("0.9"))
    ledger.cap_notices_record(wallet=ledger.account_for(user=eve), spent=D("0.9"))
    assert sorted(n["percent"] for n in api(eve).get("/api/wallet/notices").json()) == [85, 100]

    read = api(eve).post(f"/api/wallet/notices/{notice['id']}/read")
    assert read.status_code == 200 and read.json()["readAt"]
    assert api(bob).get("/api/wallet/notices").json() == []
    assert api(bob).post(f"/api/wallet/notices/{notice['id']}/read").status_code == 404
