"""Minimal account pages: register, log in, log out."""

import pytest
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-passphrase-42"


def test_register_then_log_in(client):
    response = client.post(reverse("accounts:register"), {
        "username": "newbie", "email": "newbie@example.com", "password1": PASSWORD, "password2": PASSWORD,
    })

    assert response.status_code == 302
    user = User.objects.get(username="newbie")
    assert user.email == "newbie@example.com" and user.check_password(PASSWORD)
    assert client.get(reverse("marketplace:my_agents")).status_code == 200  # logged in straight away

    client.post(reverse("accounts:logout"))
    assert client.get(reverse("marketplace:my_agents")).status_code == 302

    response = client.post(reverse("accounts:login"), {"username": "newbie", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("marketplace:home")
    assert "newbie" in client.get(reverse("marketplace:home")).content.decode()


def test_register_rejects_a_taken_email_in_any_case(client, alice):
    response = client.post(reverse("accounts:register"), {
        "username": "alice2", "email": "ALICE@example.com", "password1": PASSWORD, "password2": PASSWORD,
    })

    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert not User.objects.filter(username="alice2").exists()


def test_register_needs_an_email_and_matching_passwords(client):
    response = client.post(reverse("accounts:register"), {
        "username": "x", "email": "", "password1": PASSWORD, "password2": PASSWORD + "!",
    })

    html = response.content.decode()
    assert response.status_code == 400
    assert "This field is required." in html
    assert "didn’t match" in html or "didn't match" in html


def test_login_with_a_wrong_password_shows_an_error(client, alice):
    response = client.post(reverse("accounts:login"), {"username": "alice", "password": "nope"})

    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_login_redirects_to_next(client, alice):
    response = client.post(reverse("accounts:login") + "?next=/my/agents/",
                           {"username": "alice", "password": "correct-horse-battery", "next": "/my/agents/"})

    assert response["Location"] == "/my/agents/"


def test_logout_is_post_only(client, alice):
    client.force_login(alice)

    assert client.get(reverse("accounts:logout")).status_code == 405
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert client.get(reverse("marketplace:my_agents")).status_code == 302


def test_pages_render(client):
    assert client.get(reverse("accounts:login")).status_code == 200
    assert client.get(reverse("accounts:register")).status_code == 200
