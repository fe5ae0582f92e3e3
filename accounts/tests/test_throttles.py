"""DRF throttles per anonymous address, per user, per API key and on the email-sending endpoints."""

import pytest

from accounts.tests.conftest import bearer, with_key
from accounts.throttling import parse_rate

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    def set_rates(**rates):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                                   "DEFAULT_THROTTLE_RATES": {"anon": "off", "user": "off", "api_key": "off",
                                                              "auth": "off", **rates}}

    return set_rates


def test_anonymous_callers_are_throttled_per_address(anon, rates):
    rates(anon="3/minute")
    for _ in range(3):
        assert anon.get("/api/agents").status_code == 200

    throttled = anon.get("/api/agents")

    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "throttled"
    assert 1 <= int(throttled["Retry-After"]) <= 60
    assert anon.get("/api/agents", REMOTE_ADDR="198.51.100.1").status_code == 200  # another address


def test_users_are_throttled_per_user_not_per_address(login, alice, bob, rates):
    alice_api, bob_api = bearer(login(alice)["access"]), bearer(login(bob)["access"])
    rates(user="2/minute")

    assert [alice_api.get("/api/auth/me").status_code for _ in range(3)] == [200, 200, 429]
    assert bob_api.get("/api/auth/me").status_code == 200


def test_api_keys_are_throttled_per_key(login, alice, rates):
    person = bearer(login(alice)["access"])
    one = person.post("/api/keys", {"name": "one"}, format="json").json()["key"]
    two = person.post("/api/keys", {"name": "two"}, format="json").json()["key"]
    rates(api_key="2/minute")

    assert [with_key(one).get("/api/agents").status_code for _ in range(3)] == [200, 200, 429]
    assert with_key(two).get("/api/agents").status_code == 200
    assert person.get("/api/auth/me").status_code == 200  # the person's own requests are not the key's


def test_endpoints_that_send_email_have_their_own_limit(anon, rates):
    rates(auth="2/hour")
    body = {"email": "someone@example.com"}

    statuses = [anon.post("/api/auth/password-reset", body, format="json").status_code for _ in range(3)]

    assert statuses == [204, 204, 429]


def test_throttles_are_off_unless_configured(anon):
    assert all(anon.get("/api/agents").status_code == 200 for _ in range(30))


@pytest.mark.parametrize(("rate", "parsed"), [("100/minute", (100, 60)), ("5/s", (5, 1)), ("10/hour", (10, 3600)),
                                              ("1/day", (1, 86400)), ("off", None), ("", None), (None, None)])
def test_parse_rate(rate, parsed):
    assert parse_rate(rate) == parsed


@pytest.mark.parametrize("rate", ["ten/minute", "5", "5/fortnight"])
def test_a_bad_rate_is_refused(rate):
    with pytest.raises(ValueError, match="rate"):
        parse_rate(rate)
