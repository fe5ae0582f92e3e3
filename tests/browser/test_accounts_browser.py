"""Sign up, log in, create an API key and log out, in a real browser."""

import json
import os
import urllib.request

import pytest

from accounts.lockout import login_attempts_clear
from accounts.models import ApiKey, User

# Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
# around it are still synchronous and safe.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

PASSWORD = "a-long-unusual-passphrase-42"


def whoami(base_url: str, key: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"{base_url}/api/auth/me", headers={"Authorization": f"Api-Key {key}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_register_log_in_create_an_api_key_and_log_out(live_server, browser_page, artifacts):
    login_attempts_clear()
    page = browser_page

    # register
    page.goto(f"{live_server.url}/accounts/register/")
    page.get_by_label("Username").fill("browser-user")
    page.get_by_label("Email address").fill("browser@example.com")
    page.get_by_label("Full name").fill("Bro Wser")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{live_server.url}/")
    assert "Welcome to AgentHub, browser-user!" in page.content()
    assert User.objects.get(username="browser-user").full_name == "Bro Wser"

    # log out, then log in again with the email address
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Username or email").fill("browser@example.com")
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("link", name="browser-user").is_visible()

    # create an API key: shown once, and it works
    page.get_by_role("link", name="browser-user").click()
    page.wait_for_url("**/accounts/profile/")
    page.get_by_role("link", name="API keys").click()
    page.wait_for_url("**/accounts/keys/")
    page.get_by_label("Name").fill("nightly report")
    page.get_by_label("Invoke").check()
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_test_id("new-key-value").inner_text().strip()
    page.screenshot(path=str(artifacts / "accounts-api-key-created.png"), full_page=True)
    assert key.startswith("ahk_")
    assert ApiKey.objects.get(user__username="browser-user").scopes == ["read", "invoke"]
    status, me = whoami(live_server.url, key)
    assert status == 200 and me["username"] == "browser-user"
    assert page.get_by_test_id("api-keys").get_by_text("nightly report").is_visible()

    # log out
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("link", name="Log in").is_visible()
    page.goto(f"{live_server.url}/accounts/keys/")
    assert "/accounts/login/" in page.url
