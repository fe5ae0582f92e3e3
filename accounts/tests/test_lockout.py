"""Brute force: five failed logins per minute per account and per address, then 429 everywhere."""

import threading
import time

import pytest
from django.contrib.auth.signals import user_login_failed
from django.test import Client, RequestFactory

from accounts.lockout import client_ip
from accounts.tests.conftest import PASSWORD
from accounts.tests.live import post, race

pytestmark = pytest.mark.django_db

LIMIT = 5


def api_login(anon, username: str, password: str = "wrong", ip: str = "127.0.0.1", **headers):
    return anon.post("/api/auth/login", {"username": username, "password": password}, format="json",
                     REMOTE_ADDR=ip, **headers)


def test_the_sixth_failure_in_a_minute_is_429_with_retry_after(anon, alice):
    for _ in range(LIMIT):
        assert api_login(anon, "alice").status_code == 401

    locked = api_login(anon, "alice")
    right_password = api_login(anon, "alice", PASSWORD)

    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "throttled"
    assert "Too many failed logins" in locked.json()["error"]["message"]
    assert 1 <= int(locked["Retry-After"]) <= 60
    assert right_password.status_code == 429  # no password is checked while locked


def test_a_successful_login_does_not_count_as_a_failure(anon, alice):
    for _ in range(LIMIT - 1):
        api_login(anon, "alice")
    assert api_login(anon, "alice", PASSWORD).status_code == 200

    assert api_login(anon, "alice").status_code == 401  # the fifth failure: still allowed
    assert api_login(anon, "alice").status_code == 429


def test_the_account_is_counted_whatever_the_address(anon, alice):
    for n in range(LIMIT):
        api_login(anon, "alice", ip=f"198.51.100.{n + 1}")

    assert api_login(anon, "alice", ip="203.0.113.9").status_code == 429


def test_the_username_and_the_email_address_share_one_count(anon, alice):
    for n in range(LIMIT):
        api_login(anon, "alice" if n % 2 else "ALICE@example.com", ip=f"198.51.100.{n + 1}")

    assert api_login(anon, "Alice", ip="203.0.113.9").status_code == 429


def test_the_address_is_counted_whatever_the_account(anon):
    for n in range(LIMIT):
        assert api_login(anon, f"someone{n}").status_code == 401

    assert api_login(anon, "someone-else").status_code == 429


def test_x_forwarded_for_from_an_untrusted_client_does_not_reset_the_count(anon):
    for n in range(LIMIT):
        api_login(anon, f"someone{n}", HTTP_X_FORWARDED_FOR=f"10.9.8.{n}")

    assert api_login(anon, "fresh-name", HTTP_X_FORWARDED_FOR="10.9.8.200").status_code == 429


def test_behind_a_trusted_proxy_each_client_address_is_counted_apart(anon, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    for n in range(LIMIT):
        api_login(anon, f"someone{n}", ip="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7")

    assert api_login(anon, "x", ip="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429
    assert api_login(anon, "x", ip="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 401


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("203.0.113.5", "1.2.3.4", "203.0.113.5"),  # not from a proxy: the header is ignored
        ("10.0.0.2", "198.51.100.7", "198.51.100.7"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # what the client wrote itself is ignored
        ("10.0.0.2", "198.51.100.7, 10.0.0.9", "198.51.100.7"),  # two proxies of ours
        ("10.0.0.2", "garbage, 198.51.100.7", "198.51.100.7"),
        ("10.0.0.2", "198.51.100.7, garbage", "10.0.0.2"),  # a proxy would not write that: trust no further
        ("10.0.0.2", "", "10.0.0.2"),
    ],
)
def test_client_ip(settings, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == expected


def test_one_ipv6_network_is_one_address(anon):
    for n in range(LIMIT):
        api_login(anon, f"someone{n}", ip=f"2001:db8:1:2::{n + 1}")

    assert api_login(anon, "x", ip="2001:db8:1:2:ffff::1").status_code == 429
    assert api_login(anon, "x", ip="2001:db8:1:3::1").status_code == 401


def test_the_lock_lifts_when_the_window_ends(anon, alice, settings):
    settings.LOGIN_FAILURE_WINDOW = 1
    for _ in range(LIMIT + 1):
        api_login(anon, "alice")
    assert api_login(anon, "alice", PASSWORD).status_code == 429

    time.sleep(1.2)

    assert api_login(anon, "alice", PASSWORD).status_code == 200


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_the_login_pages_and_the_admin_are_guarded_too(alice, dave, url):
    client = Client()
    for _ in range(LIMIT):
        assert client.post(url, {"username": "dave", "password": "wrong"}).status_code == 200

    locked = client.post(url, {"username": "dave", "password": PASSWORD})

    assert locked.status_code == 429
    assert int(locked["Retry-After"]) >= 1
    assert "Too many failed logins" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_guessing_the_current_password_is_guarded_too(login, alice):
    from accounts.tests.conftest import bearer

    client = bearer(login(alice)["access"])
    body = {"currentPassword": "guess", "newPassword": "a-long-unusual-passphrase-42"}
    for _ in range(LIMIT):
        assert client.post("/api/auth/password-change", body, format="json").status_code == 400

    assert client.post("/api/auth/password-change", body, format="json").status_code == 429


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_simultaneous_attempts_at_most_five_are_processed(live_server, alice):
    processed = []
    lock = threading.Lock()

    def count(sender, credentials, request=None, **kwargs):  # sent for every password actually checked
        with lock:
            processed.append(credentials.get("username"))

    user_login_failed.connect(count, dispatch_uid="test-count-processed")
    try:
        answers = race(50, lambda i: post(f"{live_server.url}/api/auth/login",
                                          {"username": "alice", "password": f"guess-{i}"}))
    finally:
        user_login_failed.disconnect(dispatch_uid="test-count-processed")

    statuses = [status for status, _ in answers]
    assert len(processed) == LIMIT  # at most five, and not fewer: the guard does not over-block
    assert statuses.count(401) == len(processed)
    assert statuses.count(429) == 50 - len(processed)
    assert post(f"{live_server.url}/api/auth/login", {"username": "alice", "password": PASSWORD})[0] == 429
