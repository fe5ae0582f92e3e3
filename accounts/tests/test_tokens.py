"""JWTs: rotation, replay, bad tokens, lifetimes, and what a password change or reset kills."""

import base64
import json
import time

import jwt
import pytest
from django.conf import settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import LoginSession
from accounts.services import password_reset_link
from accounts.tests.conftest import NEW_PASSWORD, PASSWORD, bearer

pytestmark = pytest.mark.django_db


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def refresh(anon, token: str):
    return anon.post("/api/auth/refresh", {"refresh": token}, format="json")


def test_access_tokens_live_five_minutes_and_say_what_they_are(login, alice):
    pair = login(alice)

    access, refresh_claims = claims(pair["access"]), claims(pair["refresh"])
    assert access["token_type"] == "access" and refresh_claims["token_type"] == "refresh"
    assert access["exp"] - access["iat"] <= 300
    assert access["user_id"] == str(alice.pk) and access["sid"] == refresh_claims["sid"]
    assert refresh_claims["exp"] - refresh_claims["iat"] == 7 * 24 * 3600


def test_refresh_tokens_are_stored_as_fingerprints_not_as_tokens(login, alice):
    pair = login(alice)

    stored = OutstandingToken.objects.get(jti=claims(pair["refresh"])["jti"])
    assert stored.token.startswith("sha256:") and pair["refresh"] not in stored.token


def test_a_rotated_refresh_token_is_dead(anon, login, alice):
    pair = login(alice)

    first = refresh(anon, pair["refresh"])
    again = refresh(anon, pair["refresh"])

    assert first.status_code == 200
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "token_reused"


def test_replaying_a_rotated_token_ends_the_tokens_issued_from_it(anon, login, alice):
    pair = login(alice)
    second = refresh(anon, pair["refresh"]).json()
    third = refresh(anon, second["refresh"]).json()

    replay = refresh(anon, pair["refresh"])  # a thief replays the first token

    assert replay.status_code == 401
    assert refresh(anon, third["refresh"]).status_code == 401  # the legitimate successor is dead too
    assert bearer(third["access"]).get("/api/auth/me").status_code == 401
    session = LoginSession.objects.get(user=alice)
    assert session.end_reason == "token_reuse" and session.ended_at is not None


def test_other_sessions_survive_a_replay_in_one(anon, login, alice):
    mine, other = login(alice), login(alice)
    refresh(anon, mine["refresh"])

    refresh(anon, mine["refresh"])

    assert bearer(other["access"]).get("/api/auth/me").status_code == 200
    assert refresh(anon, other["refresh"]).status_code == 200


def test_a_refresh_token_is_not_an_access_token(login, alice):
    pair = login(alice)

    response = bearer(pair["refresh"]).get("/api/auth/me")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"


def test_an_access_token_is_not_a_refresh_token(anon, login, alice):
    pair = login(alice)

    assert refresh(anon, pair["access"]).status_code == 401


def forged_tokens(pair: dict, bob) -> dict[str, str]:
    access = claims(pair["access"])
    header, payload, signature = pair["access"].split(".")
    now = int(time.time())
    return {
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "foreign key": jwt.encode(access, "someone-elses-secret-key-that-is-long-enough", algorithm="HS256"),
        "tampered payload": f"{header}.{b64({**access, 'user_id': str(bob.pk)})}.{signature}",
        "expired": jwt.encode({**access, "iat": now - 400, "exp": now - 100}, settings.SECRET_KEY, algorithm="HS256"),
        "no session": jwt.encode({k: v for k, v in access.items() if k != "sid"}, settings.SECRET_KEY,
                                 algorithm="HS256"),
        "garbage": "not-a-token",
        "empty parts": "..",
    }


@pytest.mark.parametrize("kind", ["alg none", "foreign key", "tampered payload", "expired", "no session", "garbage",
                                  "empty parts"])
def test_bad_access_tokens_are_401(login, alice, bob, kind):
    token = forged_tokens(login(alice), bob)[kind]

    response = bearer(token).get("/api/auth/me")

    assert response.status_code == 401, kind
    assert response.json()["error"]["code"] in ("token_not_valid", "authentication_failed")


@pytest.mark.parametrize("kind", ["alg none", "foreign key", "tampered payload", "expired"])
def test_bad_refresh_tokens_are_401(anon, login, alice, bob, kind):
    pair = login(alice)
    original = claims(pair["refresh"])
    header, payload, signature = pair["refresh"].split(".")
    now = int(time.time())
    token = {
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "foreign key": jwt.encode(original, "someone-elses-secret-key-that-is-long-enough", algorithm="HS256"),
        "tampered payload": f"{header}.{b64({**original, 'user_id': str(bob.pk)})}.{signature}",
        "expired": jwt.encode({**original, "exp": now - 1}, settings.SECRET_KEY, algorithm="HS256"),
    }[kind]

    response = refresh(anon, token)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"
    assert refresh(anon, pair["refresh"]).status_code == 200  # the genuine token was not consumed


def test_a_refresh_token_we_never_issued_is_refused(anon, login, alice):
    original = claims(login(alice)["refresh"])
    forged = jwt.encode({**original, "jti": "f" * 32}, settings.SECRET_KEY, algorithm="HS256")

    assert refresh(anon, forged).status_code == 401


def test_a_stale_authorization_header_does_not_block_refresh(login, alice):
    pair = login(alice)
    client = bearer("expired.or.garbage")

    response = client.post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json")

    assert response.status_code == 200


def test_a_disabled_account_cannot_refresh_or_use_its_access_token(anon, login, alice):
    pair = login(alice)
    alice.is_active = False
    alice.save()

    assert refresh(anon, pair["refresh"]).status_code == 401
    assert bearer(pair["access"]).get("/api/auth/me").status_code == 401


def test_logout_with_a_bad_token_is_401_and_twice_is_harmless(anon, login, alice):
    pair = login(alice)

    assert anon.post("/api/auth/logout", {"refresh": "nope"}, format="json").status_code == 401
    assert anon.post("/api/auth/logout", {"refresh": pair["refresh"]}, format="json").status_code == 204
    assert anon.post("/api/auth/logout", {"refresh": pair["refresh"]}, format="json").status_code == 204


def test_a_password_change_kills_every_refresh_token_and_hands_the_caller_a_new_pair(anon, login, alice):
    mine, laptop, phone = login(alice), login(alice), login(alice)

    response = bearer(mine["access"]).post("/api/auth/password-change", {
        "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}, format="json")

    assert response.status_code == 200, response.json()
    for old in (mine, laptop, phone):
        assert refresh(anon, old["refresh"]).status_code == 401
        assert bearer(old["access"]).get("/api/auth/me").status_code == 401
    fresh = response.json()
    assert bearer(fresh["access"]).get("/api/auth/me").status_code == 200
    assert refresh(anon, fresh["refresh"]).status_code == 200
    old_jtis = [claims(pair["refresh"])["jti"] for pair in (mine, laptop, phone)]
    assert BlacklistedToken.objects.filter(token__jti__in=old_jtis).count() == 3
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)


@pytest.mark.parametrize(("body", "field"), [
    ({"currentPassword": "wrong", "newPassword": NEW_PASSWORD}, "currentPassword"),
    ({"currentPassword": PASSWORD, "newPassword": "123"}, "newPassword"),
    ({"newPassword": NEW_PASSWORD}, "currentPassword"),
])
def test_a_bad_password_change_is_400_naming_the_field_and_changes_nothing(anon, login, alice, body, field):
    pair = login(alice)

    response = bearer(pair["access"]).post("/api/auth/password-change", body, format="json")

    assert response.status_code == 400 and field in response.json()["error"]["fields"]
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
    assert refresh(anon, pair["refresh"]).status_code == 200


def test_a_password_reset_kills_every_refresh_token(anon, login, alice):
    pair = login(alice)
    alice.refresh_from_db()  # logging in moved last_login, which reset links are bound to
    uid, token, _ = password_reset_link(alice)

    response = anon.post("/api/auth/password-reset/confirm", {"uid": uid, "token": token,
                                                              "newPassword": NEW_PASSWORD}, format="json")

    assert response.status_code == 204
    assert refresh(anon, pair["refresh"]).status_code == 401
    assert bearer(pair["access"]).get("/api/auth/me").status_code == 401


def test_sessions_are_listed_and_ending_one_signs_it_out(anon, login, alice):
    mine, other = login(alice), login(alice)
    client = bearer(mine["access"])

    sessions = client.get("/api/auth/sessions").json()
    assert len(sessions) == 2 and [s["current"] for s in sessions].count(True) == 1
    other_id = claims(other["access"])["sid"]

    assert client.delete(f"/api/auth/sessions/{other_id}").status_code == 204
    assert bearer(other["access"]).get("/api/auth/me").status_code == 401
    assert refresh(anon, other["refresh"]).status_code == 401
    assert client.get("/api/auth/me").status_code == 200


def test_end_other_sessions(anon, login, alice):
    mine, second, third = login(alice), login(alice), login(alice)

    response = bearer(mine["access"]).post("/api/auth/sessions/end-others")

    assert response.status_code == 200 and "2 other sessions" in response.json()["message"]
    assert refresh(anon, second["refresh"]).status_code == 401 and refresh(anon, third["refresh"]).status_code == 401
    assert bearer(mine["access"]).get("/api/auth/me").status_code == 200


def test_expired_tokens_and_old_sessions_are_deleted(login, alice):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.tasks import expired_credentials_delete

    old, current = login(alice), login(alice)
    OutstandingToken.objects.filter(jti=claims(old["refresh"])["jti"]).update(expires_at=timezone.now())
    LoginSession.objects.filter(pk=claims(old["refresh"])["sid"]).update(
        expires_at=timezone.now() - timedelta(days=31))

    expired_credentials_delete.delay().get()

    assert not OutstandingToken.objects.filter(jti=claims(old["refresh"])["jti"]).exists()
    assert not LoginSession.objects.filter(pk=claims(old["refresh"])["sid"]).exists()
    assert LoginSession.objects.filter(pk=claims(current["refresh"])["sid"]).exists()
    assert OutstandingToken.objects.filter(jti=claims(current["refresh"])["jti"]).exists()
