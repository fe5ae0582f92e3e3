"""Email verification and password reset: the emails, the API and the pages."""

import pytest
from django.core import mail
from django.test import Client

from accounts.models import LoginSession, User
from accounts.tests.conftest import NEW_PASSWORD, PASSWORD, bearer, sent_links

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run what a request enqueues after commit (the emails), as the real request would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def verification_token(alice_email_index: int = -1) -> str:
    return sent_links("/accounts/verify-email/")[alice_email_index].rstrip("/").rsplit("/", 1)[-1]


def reset_parts() -> tuple[str, str]:
    uid, token = sent_links("/accounts/reset/")[-1].rstrip("/").rsplit("/", 2)[-2:]
    return uid, token


# --- Verification --------------------------------------------------------------------------------


def test_the_verification_link_verifies_once_and_then_says_so(api, anon, alice, on_commit):
    with on_commit():
        api(alice).post("/api/auth/verify-email/resend")
    assert "Confirm your email address" in mail.outbox[-1].subject
    token = verification_token()

    first = anon.post("/api/auth/verify-email", {"token": token}, format="json")
    second = anon.post("/api/auth/verify-email", {"token": token}, format="json")

    assert first.status_code == 200 and first.json()["isVerified"] is True
    assert second.status_code == 200
    alice.refresh_from_db()
    assert alice.is_verified and alice.email_verified_at is not None


@pytest.mark.parametrize("token", ["", "nonsense", "abc.def", "MTIz.4xy-0123456789abcdef"])
def test_a_bad_verification_token_is_400_naming_it(anon, token):
    response = anon.post("/api/auth/verify-email", {"token": token}, format="json")

    assert response.status_code == 400
    assert "token" in response.json()["error"]["fields"]


def test_a_link_for_an_address_since_changed_is_refused(api, anon, alice, on_commit):
    with on_commit():
        api(alice).post("/api/auth/verify-email/resend")
    old_token = verification_token()
    with on_commit():
        api(alice).patch("/api/auth/me", {"email": "alice@elsewhere.example.com"}, format="json")

    response = anon.post("/api/auth/verify-email", {"token": old_token}, format="json")

    assert response.status_code == 400
    assert not User.objects.get(pk=alice.pk).is_verified


def test_resending_is_limited_to_once_a_minute(api, alice, on_commit):
    with on_commit():
        for _ in range(3):
            assert api(alice).post("/api/auth/verify-email/resend").status_code == 200

    assert len(mail.outbox) == 1


def test_the_verification_page(alice, on_commit, api):
    with on_commit():
        api(alice).post("/api/auth/verify-email/resend")

    page = Client().get(sent_links("/accounts/verify-email/")[-1].split("127.0.0.1:8000")[-1])
    bad = Client().get("/accounts/verify-email/nonsense/")

    assert page.status_code == 200 and "is verified" in page.content.decode()
    assert User.objects.get(pk=alice.pk).is_verified
    assert bad.status_code == 400 and "does not work" in bad.content.decode()


# --- Password reset ------------------------------------------------------------------------------


def test_a_reset_is_204_whether_or_not_the_address_exists(anon, alice, on_commit):
    with on_commit():
        unknown = anon.post("/api/auth/password-reset", {"email": "nobody@example.com"}, format="json")
        known = anon.post("/api/auth/password-reset", {"email": "ALICE@example.com"}, format="json")

    assert unknown.status_code == known.status_code == 204
    assert unknown.content == known.content == b""
    assert [message.to for message in mail.outbox] == [["alice@example.com"]]
    assert "Reset your AgentHub password" in mail.outbox[0].subject


def test_a_malformed_address_is_400_naming_it(anon):
    response = anon.post("/api/auth/password-reset", {"email": "not-an-address"}, format="json")

    assert response.status_code == 400 and "email" in response.json()["error"]["fields"]


def test_reset_through_the_api(anon, alice, on_commit):
    with on_commit():
        anon.post("/api/auth/password-reset", {"email": "alice@example.com"}, format="json")
    uid, token = reset_parts()

    response = anon.post("/api/auth/password-reset/confirm", {"uid": uid, "token": token,
                                                              "newPassword": NEW_PASSWORD}, format="json")
    reused = anon.post("/api/auth/password-reset/confirm", {"uid": uid, "token": token,
                                                            "newPassword": "another-long-passphrase-7"}, format="json")

    assert response.status_code == 204
    assert reused.status_code == 400 and "token" in reused.json()["error"]["fields"]  # a link works once
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD) and alice.is_verified  # following the link proved the address
    login = anon.post("/api/auth/login", {"username": "alice", "password": NEW_PASSWORD}, format="json")
    assert login.status_code == 200


@pytest.mark.parametrize(("change", "field"), [({"newPassword": "123"}, "newPassword"),
                                               ({"token": "bad-token"}, "token"),
                                               ({"uid": "bm9ib2R5"}, "token"),
                                               ({"newPassword": None}, "newPassword")])
def test_a_bad_reset_is_400_naming_the_field_and_changes_nothing(anon, alice, on_commit, change, field):
    with on_commit():
        anon.post("/api/auth/password-reset", {"email": "alice@example.com"}, format="json")
    uid, token = reset_parts()

    response = anon.post("/api/auth/password-reset/confirm",
                         {"uid": uid, "token": token, "newPassword": NEW_PASSWORD, **change}, format="json")

    assert response.status_code == 400 and field in response.json()["error"]["fields"]
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_reset_through_the_pages_signs_out_every_session(alice, login, on_commit):
    elsewhere = Client()
    elsewhere.force_login(alice)
    tokens = login(alice)
    browser = Client()

    assert browser.get("/accounts/password-reset/").status_code == 200
    with on_commit():
        sent = browser.post("/accounts/password-reset/", {"email": "alice@example.com"})
    assert sent.status_code == 302 and sent["Location"] == "/accounts/password-reset/sent/"
    link = sent_links("/accounts/reset/")[-1].split("127.0.0.1:8000")[-1]
    form = browser.get(link, follow=True)  # Django swaps the token out of the URL before showing the form
    assert form.status_code == 200 and "Choose a new password" in form.content.decode()
    done = browser.post(form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    assert Client().login(username="alice", password=NEW_PASSWORD)
    assert elsewhere.get("/accounts/profile/").status_code == 302  # the other browser was signed out
    assert bearer(tokens["access"]).get("/api/auth/me").status_code == 401
    assert not LoginSession.objects.filter(user=alice, ended_at=None).exclude(kind="web").exists()


def test_emails_can_go_to_files(anon, alice, settings, tmp_path, on_commit):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)

    with on_commit():
        anon.post("/api/auth/password-reset", {"email": "alice@example.com"}, format="json")

    written = "".join(path.read_text() for path in tmp_path.iterdir())
    assert "To: alice@example.com" in written and "/accounts/reset/" in written
