"""Ten simultaneous refreshes with one refresh token, over real HTTP, on PostgreSQL: one wins.

The live server answers each request on its own thread with its own database connection, as
gunicorn's workers would. The negative control swaps the atomic consume for stock simplejwt's
check-then-insert and shows that this test catches the race it guards against.
"""

import time

import pytest
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from accounts import services
from accounts.models import LoginSession
from accounts.tests.conftest import PASSWORD
from accounts.tests.live import post, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RACERS = 10


def logged_in(live_server, user) -> dict:
    status, pair = post(f"{live_server.url}/api/auth/login", {"username": user.username, "password": PASSWORD})
    assert status == 200, pair
    return pair


def refresh_race(live_server, token: str) -> list[tuple[int, dict]]:
    return race(RACERS, lambda i: post(f"{live_server.url}/api/auth/refresh", {"refresh": token}))


def test_ten_simultaneous_refreshes_yield_exactly_one_new_pair(live_server, alice):
    pair = logged_in(live_server, alice)

    answers = refresh_race(live_server, pair["refresh"])

    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [401] * (RACERS - 1), answers
    codes = {body["error"]["code"] for status, body in answers if status == 401}
    assert codes <= {"token_reused", "session_ended"}
    # The losers presented a token that had just been rotated: a replay, so the session ended,
    # the winner's new pair with it (clients must not refresh in parallel).
    session = LoginSession.objects.get(user=alice)
    assert session.end_reason == "token_reuse"
    assert BlacklistedToken.objects.filter(token__user=alice).count() == 1


def stock_check_then_insert(outstanding) -> bool:
    """simplejwt's own order: is it blacklisted? (pause, as a busy server might) then blacklist it."""
    if BlacklistedToken.objects.filter(token=outstanding).exists():
        return False
    time.sleep(0.3)
    BlacklistedToken.objects.get_or_create(token=outstanding)
    return True


def test_negative_control_check_then_insert_lets_several_refreshes_through(live_server, alice, monkeypatch):
    pair = logged_in(live_server, alice)
    monkeypatch.setattr(services, "refresh_token_consume", stock_check_then_insert)

    answers = refresh_race(live_server, pair["refresh"])

    winners = [body for status, body in answers if status == 200]
    assert len(winners) > 1, answers  # the race the atomic consume closes: one token, several new pairs
