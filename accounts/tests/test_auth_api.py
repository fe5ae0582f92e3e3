"""Registration, login, the whole token flow and the profile, through the API, in both dialects."""

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.core import mail

from accounts.models import LoginSession, User
from accounts.tests.conftest import NEW_PASSWORD, PASSWORD, bearer, sent_links

pytestmark = pytest.mark.django_db

NEW_USER = {"username": "newbie", "email": "newbie@example.com", "password": NEW_PASSWORD, "fullName": "New Bie"}


def register(anon, **overrides):
    return anon.post("/api/auth/register", {**NEW_USER, **overrides}, format="json")


def test_register_creates_a_user_and_sends_a_verification_email(anon, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = register(anon)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["username"] == "newbie" and body["fullName"] == "New Bie" and body["isVerified"] is False
    assert body["role"] == "user" and body["roles"] == ["user"]
    assert "password" not in body
    user = User.objects.get(username="newbie")
    assert user.check_password(NEW_PASSWORD) and not user.is_verified
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["newbie@example.com"]
    assert sent_links("/accounts/verify-email/")


def test_passwords_are_hashed_with_argon2(anon, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]

    register(anon)

    assert identify_hasher(User.objects.get(username="newbie").password).algorithm == "argon2"


def test_the_snake_case_dialect_registers_and_logs_in(anon):
    response = anon.post("/api/v1/auth/register", {"username": "snake", "email": "snake@example.com",
                                                   "password": NEW_PASSWORD, "full_name": "Sna Ke"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["full_name"] == "Sna Ke" and "is_verified" in response.json()

    login = anon.post("/api/v1/auth/login", {"username": "snake", "password": NEW_PASSWORD}, format="json")
    assert login.status_code == 200
    assert set(login.json()) == {"access", "refresh", "user"}
    assert login.json()["user"]["full_name"] == "Sna Ke"
    me = bearer(login.json()["access"]).get("/api/v1/auth/me")
    assert me.json()["date_joined"] and "dateJoined" not in me.json()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"username": ""}, "username"),
        ({"username": "x" * 151}, "username"),
        ({"username": "bad name!"}, "username"),
        ({"username": "has@sign"}, "username"),
        ({"username": "me"}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "12345678901"}, "password"),
        ({"password": "newbie123"}, "password"),  # too close to the username
        ({"isStaff": True}, "isStaff"),
        ({"isSuperuser": True}, "isSuperuser"),
        ({"role": "admin"}, "role"),
    ],
)
def test_bad_registrations_are_400_naming_the_field(anon, overrides, field):
    response = register(anon, **overrides)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"], error
    assert not User.objects.filter(email="newbie@example.com").exists()


def test_missing_fields_are_each_named(anon):
    response = anon.post("/api/auth/register", {}, format="json")

    assert response.status_code == 400
    assert {"username", "email", "password"} <= set(response.json()["error"]["fields"])


def test_privileged_fields_are_named_alongside_other_errors_and_never_applied(anon):
    response = register(anon, email="nope", isStaff=True, isSuperuser=True)

    fields = response.json()["error"]["fields"]
    assert {"email", "isStaff", "isSuperuser"} <= set(fields)
    assert not User.objects.filter(is_staff=True).exists()


@pytest.mark.parametrize(("overrides", "field"), [({"username": "ALICE"}, "username"),
                                                  ({"email": "Alice@Example.com"}, "email")])
def test_duplicates_in_any_case_are_400_naming_the_field(anon, alice, overrides, field):
    response = register(anon, **overrides)

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert User.objects.count() == 1


@pytest.mark.parametrize("identifier", ["alice", "ALICE", "alice@example.com", "Alice@Example.COM"])
def test_login_with_username_or_email(anon, alice, identifier):
    response = anon.post("/api/auth/login", {"username": identifier, "password": PASSWORD}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["user"]["username"] == "alice" and body["user"]["email"] == "alice@example.com"
    assert body["access"].count(".") == 2 and body["refresh"].count(".") == 2
    assert LoginSession.objects.filter(user=alice, kind="api", ended_at=None).count() == 1


def test_login_with_an_email_field(anon, alice):
    response = anon.post("/api/auth/login", {"email": "alice@example.com", "password": PASSWORD}, format="json")

    assert response.status_code == 200


@pytest.mark.parametrize("body", [{"username": "alice", "password": "wrong"}, {"username": "nobody", "password": "x"}])
def test_wrong_credentials_are_401(anon, alice, body):
    response = anon.post("/api/auth/login", body, format="json")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not LoginSession.objects.exists()


def test_an_inactive_account_cannot_log_in(anon, alice):
    User.objects.filter(pk=alice.pk).update(is_active=False)

    response = anon.post("/api/auth/login", {"username": "alice", "password": PASSWORD}, format="json")

    assert response.status_code == 401


def test_login_without_a_username_is_400_naming_it(anon):
    response = anon.post("/api/auth/login", {"password": "x"}, format="json")

    assert response.status_code == 400
    assert "username" in response.json()["error"]["fields"]


def test_the_whole_flow_register_verify_login_refresh_logout(anon, django_capture_on_commit_callbacks):
    # register, and follow the emailed link (its token is what the React UI posts)
    with django_capture_on_commit_callbacks(execute=True):
        assert register(anon).status_code == 201
    token = sent_links("/accounts/verify-email/")[0].rstrip("/").rsplit("/", 1)[-1]
    verified = anon.post("/api/auth/verify-email", {"token": token}, format="json")
    assert verified.status_code == 200 and verified.json()["isVerified"] is True
    assert User.objects.get(username="newbie").email_verified_at is not None

    # log in
    pair = anon.post("/api/auth/login", {"username": "newbie", "password": NEW_PASSWORD}, format="json").json()
    assert pair["user"]["isVerified"] is True
    assert bearer(pair["access"]).get("/api/auth/me").json()["username"] == "newbie"

    # refresh: a new pair, the old refresh token dead
    refreshed = anon.post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json")
    assert refreshed.status_code == 200 and set(refreshed.json()) == {"access", "refresh"}
    new = refreshed.json()
    assert new["refresh"] != pair["refresh"]
    assert bearer(new["access"]).get("/api/users/me").json()["username"] == "newbie"

    # log out: the refresh token and the session's access tokens stop working
    assert anon.post("/api/auth/logout", {"refresh": new["refresh"]}, format="json").status_code == 204
    assert anon.post("/api/auth/refresh", {"refresh": new["refresh"]}, format="json").status_code == 401
    assert bearer(new["access"]).get("/api/auth/me").status_code == 401
    assert LoginSession.objects.get(user__username="newbie").end_reason == "logout"


def test_me_needs_authentication(anon):
    response = anon.get("/api/auth/me")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_users_me_is_auth_me(login, alice):
    client = bearer(login(alice)["access"])

    assert client.get("/api/users/me").json() == client.get("/api/auth/me").json()


def test_profile_update(login, alice):
    client = bearer(login(alice)["access"])

    response = client.patch("/api/auth/me", {
        "fullName": "Alice A.", "bio": "Builds agents.", "website": "https://alice.example.com",
        "avatarUrl": "https://alice.example.com/me.png", "preferences": {"theme": "dark", "emailDigest": "weekly"},
    }, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["fullName"] == "Alice A." and body["website"] == "https://alice.example.com"
    assert body["preferences"] == {"theme": "dark", "emailDigest": "weekly"}  # user data: keys kept as sent
    alice.refresh_from_db()
    assert alice.bio == "Builds agents." and alice.preferences["emailDigest"] == "weekly"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"isStaff": True}, "isStaff"),
        ({"isSuperuser": True}, "isSuperuser"),
        ({"role": "admin"}, "role"),
        ({"roles": ["reviewer"]}, "roles"),
        ({"groups": [1]}, "groups"),
        ({"isVerified": True}, "isVerified"),
        ({"username": "mallory"}, "username"),
        ({"password": "x"}, "password"),
        ({"website": "javascript:alert(1)"}, "website"),
        ({"avatarUrl": "ftp://example.com/a.png"}, "avatarUrl"),
        ({"email": "nope"}, "email"),
        ({"bio": "x" * 2001}, "bio"),
        ({"preferences": ["not", "an", "object"]}, "preferences"),
        ({"preferences": {"blob": "x" * 20000}}, "preferences"),
    ],
)
def test_bad_profile_changes_are_400_naming_the_field_and_change_nothing(login, alice, body, field):
    client = bearer(login(alice)["access"])

    response = client.patch("/api/auth/me", {"fullName": "Changed", **body}, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    alice.refresh_from_db()
    assert alice.full_name == "Alice Creator" and not alice.is_staff and not alice.is_superuser
    assert alice.username == "alice" and not alice.is_verified


def test_a_new_email_address_must_be_verified_again(login, alice, django_capture_on_commit_callbacks):
    User.objects.filter(pk=alice.pk).update(is_verified=True)
    client = bearer(login(alice)["access"])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.patch("/api/auth/me", {"email": "alice@new.example.com"}, format="json")

    assert response.json()["isVerified"] is False and response.json()["email"] == "alice@new.example.com"
    assert mail.outbox[-1].to == ["alice@new.example.com"]


def test_an_email_address_taken_by_someone_else_is_400(login, alice, bob):
    response = bearer(login(alice)["access"]).patch("/api/auth/me", {"email": "BOB@example.com"}, format="json")

    assert response.status_code == 400 and "email" in response.json()["error"]["fields"]


def test_session_callers_of_the_api_need_the_csrf_token(alice):
    from rest_framework.test import APIClient

    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(alice)

    refused = browser.post("/api/keys", {"name": "from a forged form"}, format="json")
    browser.get("/accounts/keys/")  # a page sets the CSRF cookie
    allowed = browser.post("/api/keys", {"name": "mine"}, format="json",
                           HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value)

    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    assert allowed.status_code == 201


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_the_verification_email_goes_out_from_a_worker(anon, celery_worker):
    import time

    assert register(anon).status_code == 201

    deadline = time.monotonic() + 10
    while not mail.outbox and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [message.to for message in mail.outbox] == [["newbie@example.com"]]
    assert "/accounts/verify-email/" in mail.outbox[0].body
