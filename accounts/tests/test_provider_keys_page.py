"""The LLM provider keys page: a user's own keys only, stored encrypted, never shown again, the API's rules."""

import re
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.models import ProviderKey
from accounts.services import provider_key_create

pytestmark = pytest.mark.django_db

PAGE = reverse("accounts:provider_keys")
RAW = "sk-ant-api03-page-secret-9f8e7d6c5b4a"


def browser(user, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def field_errors(html: str, name: str) -> list[str]:
    """The errors shown in one form field's block."""
    block = re.search(rf'<div class="field[^"]*" id="field-{name}">(.*?)\n</div>', html, re.S).group(1)
    return [unescape(error) for error in re.findall(r'<p class="error" role="alert">(.*?)</p>', block)]


def stored_ciphertext(key: ProviderKey) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key_encrypted FROM {ProviderKey._meta.db_table} WHERE id = %s",
                       [key.pk.hex])
        return cursor.fetchone()[0]


def test_the_page_lists_only_the_users_own_keys(alice, bob):
    provider_key_create(user=alice, provider="anthropic", label="Alice at work", api_key="sk-ant-api03-alice-0001",
                        model="claude-sonnet-4-5")
    theirs = provider_key_create(user=bob, provider="openai", label="Bob's secret project",
                                 api_key="sk-proj-bob-secret-key-0002")

    response = browser(alice).get(PAGE)

    html = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert "Alice at work" in html and "…0001" in html and "claude-sonnet-4-5" in html
    assert "Bob's secret project" not in html and "Bob&#x27;s secret project" not in html
    assert "…0002" not in html and str(theirs.pk) not in html
    assert "HubChat asks your own keys first, then the platform’s providers, then its built-in planner." in html


def test_a_new_key_is_stored_encrypted_and_never_shown_again(alice):
    page = browser(alice)

    saved = page.post(PAGE, {"provider": "anthropic", "label": "Work", "model": "", "base_url": "", "api_key": RAW})
    after = page.get(PAGE)

    assert saved.status_code == 302 and saved["Location"] == PAGE
    assert RAW not in saved.content.decode()
    key = ProviderKey.objects.get(user=alice)
    assert (key.provider, key.label, key.last_four, key.base_url) == ("anthropic", "Work", "5b4a", "")
    ciphertext = stored_ciphertext(key)
    assert ciphertext and RAW not in ciphertext and "page-secret" not in ciphertext
    assert key.key() == RAW  # decrypts to what was typed
    html = after.content.decode()
    assert RAW not in html and "page-secret" not in html
    assert "…5b4a" in html and "saved. HubChat will try it first." in html
    assert re.search(r'<input type="password" name="api_key"(?![^>]*value=)[^>]*>', html)


def test_an_openai_compatible_server_is_saved_with_its_address_and_model(settings, alice):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["127.0.0.1"]  # a local vLLM, as in development

    saved = browser(alice).post(PAGE, {"provider": "openai_compatible", "label": "Home GPU",
                                       "base_url": "http://127.0.0.1:8000/v1/", "model": "llama3", "api_key": ""})

    assert saved.status_code == 302
    key = ProviderKey.objects.get(user=alice)
    assert (key.base_url, key.model, key.last_four) == ("http://127.0.0.1:8000/v1", "llama3", "")
    assert "http://127.0.0.1:8000/v1" in browser(alice).get(PAGE).content.decode()


@pytest.mark.parametrize(("data", "errors"), [
    ({"provider": "anthropic"}, {"api_key": "This field is required."}),
    ({"provider": "anthropic", "api_key": "sk ant with spaces"}, {"api_key": "no spaces"}),
    ({"provider": "openai", "api_key": RAW, "base_url": "https://example.com/v1"},
     {"base_url": "Only an openai_compatible key has its own address."}),
    ({"provider": "openai_compatible", "api_key": RAW},
     {"base_url": "The server's address is required.", "model": "Name the model the server should run."}),
    ({"provider": "openai_compatible", "api_key": RAW, "model": "m", "base_url": "ftp://example.com/v1"},
     {"base_url": "http"}),
    ({"provider": "gemini", "api_key": RAW}, {"provider": "Select a valid choice."}),
    ({"provider": "anthropic", "api_key": RAW, "label": "x" * 101}, {"label": "100 characters"}),
])
def test_errors_show_on_their_fields_and_the_key_is_not_echoed(settings, alice, data, errors):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = []

    response = browser(alice).post(PAGE, data)

    html = response.content.decode()
    assert response.status_code == 400
    for name, message in errors.items():
        assert any(message in error for error in field_errors(html, name)), (name, field_errors(html, name))
    assert RAW not in html and "sk ant with spaces" not in html
    assert not ProviderKey.objects.exists()


def test_the_most_keys_allowed_is_said_on_the_form(settings, alice):
    settings.HUBCHAT_MAX_PROVIDER_KEYS = 1
    provider_key_create(user=alice, provider="anthropic", api_key="sk-ant-api03-the-only-one")

    response = browser(alice).post(PAGE, {"provider": "openai", "api_key": "sk-proj-one-too-many-0003"})

    assert response.status_code == 400
    assert "the most allowed; delete one first" in response.content.decode()
    assert ProviderKey.objects.filter(user=alice).count() == 1


def test_a_user_deletes_their_key_and_nobody_else_can(alice, bob):
    mine = provider_key_create(user=alice, provider="anthropic", label="Mine", api_key="sk-ant-api03-alice-mine")
    theirs = provider_key_create(user=bob, provider="anthropic", label="Theirs", api_key="sk-ant-api03-bob-theirs")
    page = browser(alice)

    refused = page.post(reverse("accounts:provider_key_delete", args=[theirs.pk]))
    deleted = page.post(reverse("accounts:provider_key_delete", args=[mine.pk]))

    assert refused.status_code == 404
    assert ProviderKey.objects.filter(pk=theirs.pk).exists()
    assert deleted.status_code == 302 and deleted["Location"] == PAGE
    assert not ProviderKey.objects.filter(pk=mine.pk).exists()
    assert page.get(reverse("accounts:provider_key_delete", args=[mine.pk])).status_code == 405  # POST only
    assert "deleted." in page.get(PAGE).content.decode()


def test_anonymous_visitors_are_sent_to_log_in(client, alice):
    key = provider_key_create(user=alice, provider="anthropic", api_key="sk-ant-api03-alice-anon")

    shown = client.get(PAGE)
    added = client.post(PAGE, {"provider": "anthropic", "api_key": RAW})
    deleted = client.post(reverse("accounts:provider_key_delete", args=[key.pk]))

    for response in (shown, added, deleted):
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    assert list(ProviderKey.objects.all()) == [key]


def test_adding_and_deleting_need_the_csrf_token(alice):
    key = provider_key_create(user=alice, provider="anthropic", api_key="sk-ant-api03-alice-csrf")
    strict = browser(alice, csrf=True)

    added = strict.post(PAGE, {"provider": "anthropic", "api_key": RAW})
    deleted = strict.post(reverse("accounts:provider_key_delete", args=[key.pk]))

    assert added.status_code == 403 and deleted.status_code == 403
    assert list(ProviderKey.objects.all()) == [key]


def test_the_account_nav_links_the_page(alice):
    html = browser(alice).get(reverse("accounts:api_keys")).content.decode()

    assert f'href="{PAGE}"' in html and "LLM keys" in html
