"""An API key's daily cap, set and changed through /api/keys and the API keys page.

(Runs refused by the cap: billing/tests/test_api_key_cap.py.)"""

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import ApiKey
from accounts.tests.conftest import PASSWORD, bearer, with_key

pytestmark = pytest.mark.django_db

D = Decimal


def text(html: str) -> str:
    """What a reader sees of `html`: no tags, single spaces."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def alice_api(login, alice):
    return bearer(login(alice)["access"])


@pytest.fixture
def alice_browser(alice) -> Client:
    client = Client()
    assert client.login(username="alice", password=PASSWORD)
    return client


# --- The API -------------------------------------------------------------------------------------------


def test_a_key_is_created_with_a_cap_listed_with_what_it_spent_and_changed(alice_api):
    created = alice_api.post("/api/keys", {"name": "ci", "scopes": ["invoke"], "dailyCap": "2.5"}, format="json")
    assert created.status_code == 201 and created.json()["dailyCap"] == 2.5
    key_id = created.json()["id"]
    (listed,) = alice_api.get("/api/keys").json()
    assert (listed["dailyCap"], listed["spentToday"]) == (2.5, 0)

    changed = alice_api.patch(f"/api/keys/{key_id}", {"dailyCap": "0.0001", "name": "  ci nightly "}, format="json")
    assert changed.status_code == 200
    body = changed.json()
    assert (body["dailyCap"], body["name"], body["spentToday"]) == (0.0001, "ci nightly", 0)
    assert alice_api.get(f"/api/keys/{key_id}").json()["dailyCap"] == 0.0001
    removed = alice_api.patch(f"/api/keys/{key_id}", {"dailyCap": None}, format="json")
    assert removed.status_code == 200 and removed.json()["dailyCap"] is None
    assert ApiKey.objects.get(pk=key_id).daily_cap is None
    # left out: no cap; and the snake_case dialect
    assert alice_api.post("/api/keys", {"name": "plain"}, format="json").json()["dailyCap"] is None
    snake = alice_api.patch(f"/api/v1/keys/{key_id}", {"daily_cap": "3"}, format="json")
    assert snake.status_code == 200 and snake.json()["daily_cap"] == 3 and "spent_today" in snake.json()


@pytest.mark.parametrize("cap", ["-1", "0.00001", "lots", "12345678901"])
def test_a_bad_cap_is_a_400_naming_the_field(alice_api, cap):
    response = alice_api.post("/api/keys", {"name": "ci", "dailyCap": cap}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["dailyCap"]
    assert not ApiKey.objects.exists()


def test_a_bad_change_is_a_400_naming_the_field_and_changes_nothing(alice_api):
    key_id = alice_api.post("/api/keys", {"name": "ci", "dailyCap": "1"}, format="json").json()["id"]

    negative = alice_api.patch(f"/api/keys/{key_id}", {"dailyCap": "-0.5"}, format="json")
    blank = alice_api.patch(f"/api/keys/{key_id}", {"name": "   ", "dailyCap": "2"}, format="json")
    fixed = alice_api.patch(f"/api/keys/{key_id}", {"scopes": ["manage"], "expiresAt": None}, format="json")

    assert negative.status_code == 400 and list(negative.json()["error"]["fields"]) == ["dailyCap"]
    assert blank.status_code == 400 and list(blank.json()["error"]["fields"]) == ["name"]
    assert fixed.status_code == 400 and sorted(fixed.json()["error"]["fields"]) == ["expiresAt", "scopes"]
    key = ApiKey.objects.get(pk=key_id)
    assert (key.name, key.daily_cap, key.scopes) == ("ci", D("1"), ["read"])


def test_a_key_cannot_change_keys_even_its_own_cap(alice_api):
    created = alice_api.post("/api/keys", {"name": "ci", "scopes": ["read", "invoke", "manage"], "dailyCap": "1"},
                             format="json").json()

    response = with_key(created["key"]).patch(f"/api/keys/{created['id']}", {"dailyCap": "1000"}, format="json")

    assert response.status_code == 403 and "sign in" in response.json()["error"]["message"]
    assert ApiKey.objects.get(pk=created["id"]).daily_cap == D("1")


def test_a_revoked_keys_cap_cannot_change(alice_api, alice):
    key, _ = services.api_key_create(user=alice, name="old", scopes=["read"])
    services.api_key_revoke(key=key)

    response = alice_api.patch(f"/api/keys/{key.pk}", {"dailyCap": "1"}, format="json")

    assert response.status_code == 409 and response.json()["error"]["code"] == "api_key_revoked"


# --- The page ------------------------------------------------------------------------------------------


def test_the_page_creates_a_key_with_a_cap_shows_today_against_it_and_changes_it(alice_browser, alice):
    created = alice_browser.post(reverse("accounts:api_keys"),
                                 {"name": "laptop", "scopes": ["invoke"], "expires": "", "daily_cap": "2.5"})
    assert created.status_code == 201
    key = ApiKey.objects.get(user=alice)
    assert key.daily_cap == D("2.5")
    assert "0.00 of 2.50 BB" in text(created.content.decode())

    changed = alice_browser.post(reverse("accounts:api_key_cap", args=[key.pk]), {"daily_cap": "1.25"})
    assert changed.status_code == 302 and changed["Location"] == reverse("accounts:api_keys")
    page = alice_browser.get(reverse("accounts:api_keys")).content.decode()
    assert "daily cap set to 1.25 BB" in page and "0.00 of 1.25 BB" in text(page)

    alice_browser.post(reverse("accounts:api_key_cap", args=[key.pk]), {"daily_cap": ""})
    key.refresh_from_db()
    assert key.daily_cap is None
    assert "no cap" in alice_browser.get(reverse("accounts:api_keys")).content.decode()


@pytest.mark.parametrize("cap", ["-1", "0.00001", "lots"])
def test_the_page_shows_a_bad_cap_on_the_keys_row(alice_browser, alice, cap):
    key, _ = services.api_key_create(user=alice, name="laptop", scopes=["read"], daily_cap=D("3"))

    response = alice_browser.post(reverse("accounts:api_key_cap", args=[key.pk]), {"daily_cap": cap})

    assert response.status_code == 400
    page = response.content.decode()
    assert f'id="cap-{key.pk}-error"' in page and 'aria-invalid="true"' in page
    assert '<details class="key-cap" open>' in page
    key.refresh_from_db()
    assert key.daily_cap == D("3")
    bad_create = alice_browser.post(reverse("accounts:api_keys"), {"name": "x", "scopes": ["read"], "daily_cap": cap})
    assert bad_create.status_code == 400 and ApiKey.objects.count() == 1


def test_the_page_says_a_revoked_keys_cap_cannot_change(alice_browser, alice):
    key, _ = services.api_key_create(user=alice, name="old", scopes=["read"])
    services.api_key_revoke(key=key)

    response = alice_browser.post(reverse("accounts:api_key_cap", args=[key.pk]), {"daily_cap": "1"}, follow=True)

    assert "This key is revoked" in response.content.decode()
    key.refresh_from_db()
    assert key.daily_cap is None


def test_the_cap_form_is_csrf_protected_and_another_users_key_is_404(alice, bob):
    key, _ = services.api_key_create(user=alice, name="laptop", scopes=["read"])
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    bob_browser = Client()
    bob_browser.force_login(bob)

    assert strict.post(reverse("accounts:api_key_cap", args=[key.pk]), {"daily_cap": "1"}).status_code == 403
    assert bob_browser.post(reverse("accounts:api_key_cap", args=[key.pk]), {"daily_cap": "1"}).status_code == 404
    key.refresh_from_db()
    assert key.daily_cap is None
