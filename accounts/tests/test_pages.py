"""Account pages: register, log in and out, profile, security (password, sessions), API keys."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import ApiKey, LoginSession, User
from accounts.tests.conftest import NEW_PASSWORD, PASSWORD, bearer, with_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_browser(alice) -> Client:
    client = Client()
    assert client.login(username="alice", password=PASSWORD)
    return client


def test_register_then_log_in(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:register"), {
            "username": "newbie", "email": "newbie@example.com", "full_name": "New Bie",
            "password1": NEW_PASSWORD, "password2": NEW_PASSWORD,
        })

    assert response.status_code == 302
    user = User.objects.get(username="newbie")
    assert user.email == "newbie@example.com" and user.check_password(NEW_PASSWORD) and user.full_name == "New Bie"
    assert mail.outbox[0].to == ["newbie@example.com"]  # the verification email
    assert client.get(reverse("marketplace:my_agents")).status_code == 200  # logged in straight away

    client.post(reverse("accounts:logout"))
    assert client.get(reverse("marketplace:my_agents")).status_code == 302

    response = client.post(reverse("accounts:login"), {"username": "newbie@example.com", "password": NEW_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("marketplace:home")
    assert "newbie" in client.get(reverse("marketplace:home")).content.decode()


@pytest.mark.parametrize(("data", "message"), [
    ({"email": "ALICE@example.com"}, "already exists"),
    ({"username": "ALICE"}, "already exists"),
    ({"username": "me"}, "reserved"),
    ({"username": "a@b"}, "cannot contain"),
])
def test_register_refuses_taken_or_reserved_names_in_any_case(client, alice, data, message):
    response = client.post(reverse("accounts:register"), {
        "username": "alice2", "email": "alice2@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD,
        **data,
    })

    assert response.status_code == 400
    assert message in response.content.decode()
    assert User.objects.count() == 1


def test_register_needs_an_email_and_matching_passwords(client):
    response = client.post(reverse("accounts:register"), {
        "username": "x", "email": "", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "!",
    })

    html = response.content.decode()
    assert response.status_code == 400
    assert "This field is required." in html
    assert "didn’t match" in html or "didn't match" in html


def test_login_with_a_wrong_password_shows_an_error(client, alice):
    response = client.post(reverse("accounts:login"), {"username": "alice", "password": "nope"})

    assert response.status_code == 200
    assert "correct username (or email) and password" in response.content.decode()


def test_login_redirects_to_next(client, alice):
    response = client.post(reverse("accounts:login") + "?next=/my/agents/",
                           {"username": "alice", "password": PASSWORD, "next": "/my/agents/"})

    assert response["Location"] == "/my/agents/"


def test_logout_is_post_only_and_ends_the_recorded_session(alice_browser, alice):
    assert LoginSession.objects.get(user=alice).kind == "web"

    assert alice_browser.get(reverse("accounts:logout")).status_code == 405
    assert alice_browser.post(reverse("accounts:logout")).status_code == 302
    assert alice_browser.get(reverse("marketplace:my_agents")).status_code == 302
    assert LoginSession.objects.get(user=alice).end_reason == "logout"


@pytest.mark.parametrize("name", ["login", "register", "password_reset", "password_reset_sent"])
def test_public_pages_render(client, name):
    assert client.get(reverse(f"accounts:{name}")).status_code == 200


@pytest.mark.parametrize("name", ["profile", "security", "api_keys"])
def test_account_pages_need_a_login(client, name):
    response = client.get(reverse(f"accounts:{name}"))

    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


def test_forms_need_the_csrf_token(alice):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)

    response = browser.post(reverse("accounts:api_keys"), {"name": "sneaky", "scopes": ["manage"]})

    assert response.status_code == 403
    assert not ApiKey.objects.exists()


def test_profile_page_saves_changes(alice_browser, alice):
    page = alice_browser.get(reverse("accounts:profile"))
    assert page.status_code == 200 and "Not verified" in page.content.decode()

    response = alice_browser.post(reverse("accounts:profile"), {
        "full_name": "Alice A.", "email": "alice@example.com", "bio": "Hi", "website": "alice.example.com",
        "avatar_url": "",
    })

    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.full_name == "Alice A." and alice.website == "https://alice.example.com" and alice.bio == "Hi"


@pytest.mark.parametrize(("data", "message"), [({"email": "BOB@example.com"}, "already exists"),
                                             ({"website": "ftp://x.example.com"}, "http:// or https://"),
                                             ({"email": ""}, "This field is required.")])
def test_profile_page_names_bad_fields(alice_browser, alice, bob, data, message):
    response = alice_browser.post(reverse("accounts:profile"), {"full_name": "A", "email": "alice@example.com",
                                                                **data})

    assert response.status_code == 400 and message in response.content.decode()
    alice.refresh_from_db()
    assert alice.full_name == "Alice Creator" and alice.email == "alice@example.com"


def test_security_page_changes_the_password_and_keeps_this_browser_only(alice_browser, alice, login):
    other_browser = Client()
    other_browser.force_login(alice)
    tokens = login(alice)
    page = alice_browser.get(reverse("accounts:security"))
    assert page.status_code == 200 and "This session" in page.content.decode()

    response = alice_browser.post(reverse("accounts:password_change"), {
        "current_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert response.status_code == 302
    assert alice_browser.get(reverse("accounts:security")).status_code == 200  # still signed in
    assert other_browser.get(reverse("accounts:security")).status_code == 302  # signed out
    assert bearer(tokens["access"]).get("/api/auth/me").status_code == 401
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)


def test_security_page_names_a_wrong_current_password(alice_browser, alice):
    response = alice_browser.post(reverse("accounts:password_change"), {
        "current_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert response.status_code == 400
    assert "Wrong password." in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_sign_out_of_other_sessions(alice_browser, alice):
    others = [Client(), Client()]
    for other in others:
        other.force_login(alice)

    response = alice_browser.post(reverse("accounts:sessions_end_others"), follow=True)

    assert "Signed out of 2 other sessions" in response.content.decode()
    assert all(other.get(reverse("accounts:profile")).status_code == 302 for other in others)
    assert alice_browser.get(reverse("accounts:profile")).status_code == 200


def test_end_one_session_from_the_list(alice_browser, alice):
    other = Client()
    other.force_login(alice)
    other_session = LoginSession.objects.filter(user=alice).order_by("-created_at").first()

    alice_browser.post(reverse("accounts:session_end", args=[other_session.pk]))

    assert other.get(reverse("accounts:profile")).status_code == 302
    assert alice_browser.get(reverse("accounts:profile")).status_code == 200


def test_api_keys_page_shows_a_new_key_once_and_revokes(alice_browser, alice):
    response = alice_browser.post(reverse("accounts:api_keys"), {"name": "laptop", "scopes": ["read", "invoke"],
                                                                 "expires": "30"})

    html = response.content.decode()
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    raw = re.search(r'data-testid="new-key-value">([^<]+)<', html).group(1)
    key = ApiKey.objects.get(user=alice)
    assert raw.startswith(f"ahk_{key.prefix}_") and key.scopes == ["read", "invoke"] and key.expires_at
    assert with_key(raw).get("/api/auth/me").status_code == 200
    assert raw not in alice_browser.get(reverse("accounts:api_keys")).content.decode()  # never shown again

    alice_browser.post(reverse("accounts:api_key_revoke", args=[key.pk]))

    assert with_key(raw).get("/api/auth/me").status_code == 401
    assert "Revoked" in alice_browser.get(reverse("accounts:api_keys")).content.decode()


def test_api_keys_page_names_a_missing_name(alice_browser):
    response = alice_browser.post(reverse("accounts:api_keys"), {"name": "", "scopes": ["read"]})

    assert response.status_code == 400 and "This field is required." in response.content.decode()
    assert not ApiKey.objects.exists()


def test_nobody_revokes_someone_elses_key_or_session(alice_browser, bob, login):
    bob_browser = Client()
    bob_browser.force_login(bob)
    bob_key = bob_browser.post(reverse("accounts:api_keys"), {"name": "bob's", "scopes": ["read"]})
    key = ApiKey.objects.get(user=bob)
    session = LoginSession.objects.get(user=bob)

    assert alice_browser.post(reverse("accounts:api_key_revoke", args=[key.pk])).status_code == 404
    assert alice_browser.post(reverse("accounts:session_end", args=[session.pk])).status_code == 404

    assert bob_key.status_code == 201
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None
    assert LoginSession.objects.get(pk=session.pk).ended_at is None
    assert bob_browser.get(reverse("accounts:profile")).status_code == 200
