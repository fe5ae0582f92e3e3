"""Logs never carry a token, a password, a full API key or a Stripe secret."""

import io
import logging

import pytest

from accounts.log_redaction import redact
from accounts.tests.conftest import PASSWORD, bearer, with_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_output():
    """What the configured console handler (JSON lines on stderr in production) writes."""
    handler = next(handler for handler in logging.getLogger().handlers if handler.get_name() == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


@pytest.mark.urls("agenthub.tests.urls")
def test_secrets_never_reach_the_log(anon, alice, log_output, settings):
    settings.DEBUG = False
    pair = anon.post("/api/auth/login", {"username": "alice", "password": PASSWORD}, format="json").json()
    anon.post("/api/auth/login", {"username": "alice", "password": "Sup3r-Secret-Guess"}, format="json")
    key = bearer(pair["access"]).post("/api/keys", {"name": "ci"}, format="json").json()["key"]
    anon.post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json")
    anon.post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json")  # a replay: logged as a warning
    with_key(key).get(f"/api/agents?api_key={key}")  # refused, and Django logs the request line
    bearer(pair["access"] + "tampered").get("/api/auth/me")
    anon.get("/api/test/drf-boom")  # an exception whose message quotes a password
    logging.getLogger("billing").warning("charging with %s", "sk_live_4eC39HqLyjWDarjtT1zdp7dc")

    written = log_output.getvalue()
    assert "Unauthorized" in written and "refresh token reused" in written  # the events are logged...
    for secret in (PASSWORD, "Sup3r-Secret-Guess", pair["access"], pair["refresh"], key, "hunter2",
                   "sk_live_4eC39HqLyjWDarjtT1zdp7dc"):
        assert secret and secret not in written  # ...their secrets are not
    assert key[:16] in written  # the key's prefix (not secret) still tells which key it was


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        ("Authorization: Bearer abc.def.ghi", "Bearer [redacted]", "abc.def"),
        ("Authorization: Api-Key ahk_0123456789ab_SECRETSECRET", "Api-Key [redacted]", "SECRETSECRET"),
        ("GET /x?api_key=ahk_0123456789ab_SECRETSECRET", "ahk_0123456789ab_[redacted]", "SECRETSECRET"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyIjoiYWxpY2UifQ.c2lnbmF0dXJl", "[redacted-jwt]", "c2lnbmF0dXJl"),
        ('{"password": "hunter2", "username": "alice"}', '"username": "alice"', "hunter2"),
        ("new_password=correct horse", "new_password=[redacted]", "correct"),
        ("key sk_test_51Habc and rk_live_99xyz", "[redacted-stripe-key]", "51Habc"),
        ("whsec_abcDEF123", "[redacted-stripe-secret]", "abcDEF123"),
        ("refresh=eyJabc", "refresh=[redacted]", "eyJabc"),
        ("status=401 route=/api/auth/login", "status=401 route=/api/auth/login", "[redacted]"),
    ],
)
def test_redact(text, kept, gone):
    cleaned = redact(text)

    assert kept in cleaned and gone not in cleaned


def test_json_escaped_secrets_are_masked_too():
    line = '{"message": "body was {\\"password\\": \\"hunter2\\", \\"username\\": \\"alice\\"}"}'

    assert "hunter2" not in redact(line) and '\\"username\\": \\"alice\\"' in redact(line)
