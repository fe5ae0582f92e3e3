"""Daily-cap notices: `GET /api/wallet/notices` (unread first), `POST .../read`, and the wallet page's
unread notices with their dismiss button."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from billing import services as ledger
from billing.models import CapNotice
from marketplace.tests.factories import listed
from orchestration import services as runs

D = Decimal
pytestmark = pytest.mark.django_db


def notice(user, *, percent: int, days_ago: int = 0, read: bool = False) -> CapNotice:
    made = CapNotice.objects.create(account=ledger.account_for(user=user), percent=percent,
                                    day=date.today() - timedelta(days=days_ago), message=f"{percent} %, {days_ago}d")
    if read:
        CapNotice.objects.filter(pk=made.pk).update(read_at=timezone.now())
    return made


def browser(user, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def test_the_api_lists_unread_notices_first_newest_first(api, eve):
    old_unread = notice(eve, percent=85, days_ago=2)
    read = notice(eve, percent=100, days_ago=1, read=True)
    new_unread = notice(eve, percent=85)

    listed_ids = [n["id"] for n in api(eve).get("/api/wallet/notices").json()]

    assert listed_ids == [str(new_unread.pk), str(old_unread.pk), str(read.pk)]


def test_reading_a_notice_twice_keeps_the_first_time(api, eve):
    made = notice(eve, percent=100)

    first = api(eve).post(f"/api/wallet/notices/{made.pk}/read").json()["readAt"]
    again = api(eve).post(f"/api/wallet/notices/{made.pk}/read").json()["readAt"]

    assert first and first == again
    assert [n["id"] for n in api(eve).get("/api/wallet/notices").json()] == [str(made.pk)]  # read, still listed


def test_a_run_past_85_percent_puts_a_notice_at_the_top_of_the_wallet_page(eve, alice, fund, monkeypatch):
    monkeypatch.setattr(runs, "_enqueue", lambda pk: None)
    fund(eve, "10")
    ledger.wallet_caps_set(user=eve, daily=D("1"))
    agent = listed(created_by=alice, slug="paid", price_per_use=D("0.9"), dynamic_price=D("0.9"))
    runs.execution_start(user=eve, agent=agent, input={})

    page = browser(eve).get("/wallet/").content.decode()

    assert page.count('data-testid="cap-notice"') == 1
    assert "You have used 85 % of your daily cap of 1.0000 BB." in page
    assert page.index('data-testid="cap-notice"') < page.index('data-testid="wallet-available"')


def test_dismissing_a_notice_is_a_csrf_protected_post_that_hides_it(eve):
    made = notice(eve, percent=85)
    notice(eve, percent=100, days_ago=1, read=True)  # read already: not shown
    client = browser(eve, csrf=True)
    page = client.get("/wallet/").content.decode()
    assert page.count('data-testid="cap-notice"') == 1 and f"/wallet/notices/{made.pk}/dismiss/" in page
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    forged = client.post(f"/wallet/notices/{made.pk}/dismiss/")
    assert forged.status_code == 403
    made.refresh_from_db()
    assert made.read_at is None

    dismissed = client.post(f"/wallet/notices/{made.pk}/dismiss/", {"csrfmiddlewaretoken": token})
    assert dismissed.status_code == 302 and dismissed["Location"] == "/wallet/"
    made.refresh_from_db()
    assert made.read_at is not None
    assert 'data-testid="cap-notice"' not in client.get("/wallet/").content.decode()
    assert client.get(f"/wallet/notices/{made.pk}/dismiss/").status_code == 405


def test_someone_elses_notice_cannot_be_dismissed(eve, bob):
    made = notice(eve, percent=85)

    assert browser(bob).post(f"/wallet/notices/{made.pk}/dismiss/").status_code == 404
    made.refresh_from_db()
    assert made.read_at is None
    assert 'data-testid="cap-notice"' not in browser(bob).get("/wallet/").content.decode()
