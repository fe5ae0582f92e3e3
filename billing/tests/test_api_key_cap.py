"""An API key's daily cap: runs started through the key are refused with 402 once what they spent today
(captured, net of refunds, plus what they hold) would pass it; the same user's other runs are not."""

import re
import threading
import time
from decimal import Decimal

import pytest
from django.db import connections
from django.test import Client
from rest_framework.test import APIClient

from accounts import services as accounts_services
from accounts.models import ApiKey
from billing import services as ledger
from billing.models import Hold
from marketplace.tests.factories import listed
from orchestration import services as runs
from orchestration.models import Execution
from orchestration.tests.scripted_agent import Reply, ScriptedAgent

D = Decimal
PASSWORD = "correct-horse-battery"  # the shared world's (root conftest)


def jwt(user) -> APIClient:
    client = APIClient()
    response = client.post("/api/auth/login", {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


def with_key(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def run(client: APIClient, n: int, slug: str = "paid"):
    return client.post(f"/api/agents/{slug}/execute", {"input": {"n": n}}, format="json")


@pytest.mark.django_db
def test_a_capped_key_is_refused_with_402_naming_the_cap_while_the_users_jwt_runs_are_not(
    eve, alice, fund, monkeypatch
):
    # given: 10 BB, a 0.45 BB agent, and a key that may spend 1 BB a day
    monkeypatch.setattr(runs, "_enqueue", lambda pk: None)  # the runs stay pending: their holds count
    fund(eve, "10")
    listed(created_by=alice, slug="paid", price_per_use=D("0.45"), dynamic_price=D("0.45"))
    signed_in = jwt(eve)
    created = signed_in.post("/api/keys", {"name": "nightly script", "scopes": ["read", "invoke"], "dailyCap": "1"},
                             format="json").json()
    key = with_key(created["key"])

    # when: three runs through the key, then two signed in
    first, second, third = run(key, 1), run(key, 2), run(key, 3)
    jwt_runs = [run(signed_in, 4), run(signed_in, 5)]

    # then: the third would take the key to 1.35 BB
    assert (first.status_code, second.status_code) == (202, 202)
    assert third.status_code == 402
    error = third.json()["error"]
    assert error["code"] == "api_key_cap" and error["fields"] == {"apiKeyCap": ["1.0000 BB"]}
    assert "daily cap of 1.0000 BB" in error["message"] and "“nightly script”" in error["message"]
    assert [r.status_code for r in jwt_runs] == [202, 202]
    # the database: the key's runs are its own, the refused one left nothing behind
    assert Execution.objects.filter(api_key_id=created["id"]).count() == 2
    assert Execution.objects.filter(user=eve, api_key__isnull=True).count() == 2
    assert Hold.objects.filter(execution__user=eve).count() == 4 and ledger.account_for(user=eve).held == D("1.8")
    (listed_key,) = signed_in.get("/api/keys").json()
    assert (listed_key["dailyCap"], listed_key["spentToday"]) == (1, 0.9)
    page = Client()
    page.force_login(eve)
    assert "0.90 of 1.00 BB" in " ".join(re.sub(r"<[^>]+>", " ", page.get("/accounts/keys/").content.decode()).split())

    # raising the cap lets the key run again; a cap of 0 stops it at once
    signed_in.patch(f"/api/keys/{created['id']}", {"dailyCap": "1.35"}, format="json")
    assert run(key, 6).status_code == 202
    signed_in.patch(f"/api/keys/{created['id']}", {"dailyCap": "0"}, format="json")
    assert run(key, 7).status_code == 402


@pytest.mark.django_db(transaction=True)
def test_the_cap_counts_what_the_keys_runs_were_charged_net_of_refunds(eve, alice, fund, settings):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["127.0.0.1"]
    fund(eve, "10")
    key, raw = accounts_services.api_key_create(user=eve, name="ci", scopes=["invoke"], daily_cap=D("0.5"))
    with ScriptedAgent() as remote:
        listed(created_by=alice, slug="paid", endpoint_url=remote.url, price_per_use=D("0.5"),
               dynamic_price=D("0.5"))
        remote.script(Reply(200, {"result": "ok", "cost": "0.3"}))

        charged = run(with_key(raw), 1)  # runs inline (no Redis): held 0.5, captured 0.3
        assert charged.status_code == 202 and charged.json()["status"] == "completed"
        assert ledger.spent_today_by_key(user_id=eve.pk, api_key_ids=[key.pk]) == {key.pk: D("0.3")}
        refused = run(with_key(raw), 2)  # 0.3 spent + 0.5 > 0.5

        ledger.execution_refund(execution=Execution.objects.get(pk=charged.json()["id"]))
        assert ledger.spent_today_by_key(user_id=eve.pk, api_key_ids=[key.pk]) == {key.pk: D("0")}
        remote.script(Reply(200, {"result": "ok"}))
        after_refund = run(with_key(raw), 3)

    assert refused.status_code == 402 and refused.json()["error"]["code"] == "api_key_cap"
    assert after_refund.status_code == 202
    assert ledger.ledger_is_consistent()


# --- Concurrency ---------------------------------------------------------------------------------------


def _unlocked_cap_check(*, execution, amount):
    """The race the real check avoids: read the cap and the spending without the key's row lock."""
    key = ApiKey.objects.get(pk=execution.api_key_id)
    spent = ledger.spent_today_by_key(user_id=execution.user_id, api_key_ids=[key.pk])[key.pk]
    time.sleep(0.01)  # what another run through the key does meanwhile goes unseen
    if spent + amount > key.daily_cap:
        raise ledger.PaymentRequired("over the key's cap", code="api_key_cap")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("unlocked", [False, True], ids=["key-row-lock", "negative-control"])
def test_20_runs_at_once_through_a_key_capped_at_10_runs(eve, alice, fund, monkeypatch, unlocked):
    # given: plenty on the wallet, a key that may spend 5 BB a day, a 0.5 BB agent
    monkeypatch.setattr(runs, "_enqueue", lambda pk: None)  # the runs stay pending: every hold counts
    if unlocked:
        monkeypatch.setattr(ledger, "_api_key_cap_check", _unlocked_cap_check)
    fund(eve, "100")
    agent = listed(created_by=alice, slug="paid", price_per_use=D("0.5"), dynamic_price=D("0.5"))
    key, _ = accounts_services.api_key_create(user=eve, name="burst", scopes=["invoke"], daily_cap=D("5"))
    start = threading.Barrier(20)
    outcomes, lock = [], threading.Lock()

    def start_one(n: int):
        start.wait()
        try:  # the whole of execution_start: the run's row (its foreign key locks the key's row too), the hold
            runs.execution_start(user=eve, agent=agent, input={"n": n}, api_key=key)
            outcome = "ok"
        except ledger.PaymentRequired as refusal:
            outcome = refusal.code
        except Exception as error:  # noqa: BLE001 - a deadlock or a lock error is a failure of this test
            outcome = repr(error)
        finally:
            connections.close_all()
        with lock:
            outcomes.append(outcome)

    # when: 20 runs through the key at once
    threads = [threading.Thread(target=start_one, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then: exactly cap / price = 10 pass, and the held total is the cap
    held = ledger.spent_today_by_key(user_id=eve.pk, api_key_ids=[key.pk])[key.pk]
    if unlocked:
        assert outcomes.count("ok") > 10 and held > D("5"), "the negative control should show the race"
        return
    assert sorted(outcomes) == ["api_key_cap"] * 10 + ["ok"] * 10
    assert held == D("5") == ledger.account_for(user=eve).held
    assert Execution.objects.filter(api_key=key).count() == Hold.objects.filter(execution__api_key=key).count() == 10
