"""Accounts tests' fixtures. (The root conftest clears failed-login and throttle counts per test.)"""

import pytest
from django.core import mail
from rest_framework.test import APIClient

PASSWORD = "correct-horse-battery"  # the shared world's password (see the root conftest)
NEW_PASSWORD = "a-long-unusual-passphrase-42"


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def login(anon):
    """login(user) -> the JSON of POST /api/auth/login: access, refresh, user."""

    def do(user, password: str = PASSWORD, **extra) -> dict:
        response = APIClient().post("/api/auth/login", {"username": user.username, "password": password},
                                    format="json", **extra)
        assert response.status_code == 200, response.content
        return response.json()

    return do


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def with_key(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def sent_links(prefix: str) -> list[str]:
    """The links starting with `prefix` in the emails sent so far, oldest first."""
    import re

    return [link for message in mail.outbox for link in re.findall(r"https?://\S+", message.body)
            if prefix in link]
