"""API keys: shown once, stored hashed, scoped, revocable, expiring, never in a URL."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import services
from accounts.models import ApiKey, User
from accounts.tests.conftest import bearer, with_key

pytestmark = pytest.mark.django_db

AGENT = {"name": "Key Made Agent", "shortDescription": "Made with a key.", "version": "1.0.0"}


@pytest.fixture
def alice_api(login, alice):
    return bearer(login(alice)["access"])


def create_key(client, **body) -> dict:
    response = client.post("/api/keys", {"name": "ci", **body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_the_key_is_shown_once_and_stored_only_as_a_hash(alice_api, alice):
    created = create_key(alice_api, scopes=["read", "invoke"])

    assert set(created) == {"id", "name", "prefix", "key", "scopes", "expiresAt", "dailyCap", "createdAt"}
    assert created["key"].startswith(f"ahk_{created['prefix']}_") and len(created["key"]) > 50
    assert created["scopes"] == ["read", "invoke"] and created["expiresAt"] is None
    stored = ApiKey.objects.get(pk=created["id"])
    assert stored.user == alice and stored.key_hash == hashlib.sha256(created["key"].encode()).hexdigest()
    assert not any(created["key"] in str(value) for value in vars(stored).values())
    listed = alice_api.get("/api/keys").json()
    assert [key["id"] for key in listed] == [created["id"]]
    assert "key" not in listed[0] and listed[0]["status"] == "active" and listed[0]["lastUsedAt"] is None
    assert "key" not in alice_api.get(f"/api/keys/{created['id']}").json()


def test_a_key_authenticates_and_its_last_use_is_kept(alice_api, alice):
    created = create_key(alice_api)

    response = with_key(created["key"]).get("/api/auth/me")

    assert response.status_code == 200 and response.json()["username"] == "alice"
    assert ApiKey.objects.get(pk=created["id"]).last_used_at is not None
    assert alice_api.get("/api/keys").json()[0]["lastUsedAt"] is not None


def test_a_read_key_reads_but_cannot_write(alice_api):
    key = create_key(alice_api, scopes=["read"])["key"]

    assert with_key(key).get("/api/agents").status_code == 200
    response = with_key(key).post("/api/agents", AGENT, format="json")
    assert response.status_code == 403
    assert "'manage' scope" in response.json()["error"]["message"]


def test_a_manage_key_writes(alice_api):
    key = create_key(alice_api, scopes=["read", "manage"])["key"]

    response = with_key(key).post("/api/agents", AGENT, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["createdBy"] == "alice"


@pytest.mark.urls("accounts.tests.urls")
@pytest.mark.parametrize("path", ["/api/test/run-permission", "/api/test/run-attribute"])
def test_views_can_require_the_invoke_scope(alice_api, alice, path):
    invoker = create_key(alice_api, name="invoker", scopes=["invoke"])["key"]
    reader = create_key(alice_api, name="reader", scopes=["read", "manage"])["key"]

    assert with_key(invoker).post(path).status_code == 200
    refused = with_key(reader).post(path)
    assert refused.status_code == 403 and "'invoke' scope" in refused.json()["error"]["message"]
    assert alice_api.post(path).status_code == 200  # a person signed in holds every scope


@pytest.mark.urls("accounts.tests.urls")
def test_an_invoke_only_key_cannot_read(alice_api):
    invoker = create_key(alice_api, scopes=["invoke"])["key"]

    assert with_key(invoker).get("/api/test/run-attribute").status_code == 403


def test_a_revoked_key_is_refused_on_the_very_next_request(alice_api):
    created = create_key(alice_api)
    assert with_key(created["key"]).get("/api/auth/me").status_code == 200

    assert alice_api.delete(f"/api/keys/{created['id']}").status_code == 204

    response = with_key(created["key"]).get("/api/auth/me")
    assert response.status_code == 401 and response.json()["error"]["code"] == "api_key_revoked"
    assert response["WWW-Authenticate"]
    assert alice_api.get("/api/keys").json()[0]["status"] == "revoked"
    assert alice_api.delete(f"/api/keys/{created['id']}").status_code == 204  # revoking twice: no change


def test_an_expired_key_is_refused(alice_api):
    created = create_key(alice_api, expiresAt=(timezone.now() + timedelta(days=1)).isoformat())
    assert with_key(created["key"]).get("/api/auth/me").status_code == 200

    ApiKey.objects.filter(pk=created["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = with_key(created["key"]).get("/api/auth/me")
    assert response.status_code == 401 and response.json()["error"]["code"] == "api_key_expired"
    assert alice_api.get("/api/keys").json()[0]["status"] == "expired"


@pytest.mark.parametrize("params", ["api_key", "apiKey", "access_token", "anything"])
def test_a_key_in_the_query_string_is_refused(alice_api, anon, params):
    key = create_key(alice_api)["key"]

    response = with_key(key).get(f"/api/agents?{params}={key}")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "credentials_in_url"
    assert "Authorization" in response.json()["error"]["message"]
    assert anon.get(f"/api/agents?{params}={key}").status_code == 401  # without a header as well


@pytest.mark.parametrize("raw", ["", "ahk_", "ahk_000000000000_nope", "not-a-key", "ahk_" + "x" * 200])
def test_malformed_or_unknown_keys_are_401(anon, raw):
    response = with_key(raw).get("/api/auth/me") if raw else anon.get("/api/auth/me", HTTP_AUTHORIZATION="Api-Key")

    assert response.status_code == 401


def test_a_right_prefix_with_a_wrong_secret_is_401(alice_api):
    created = create_key(alice_api)
    forged = created["key"][:-4] + ("AAAA" if not created["key"].endswith("AAAA") else "BBBB")

    assert with_key(forged).get("/api/auth/me").status_code == 401


def test_a_disabled_accounts_keys_stop_working(alice_api, alice):
    key = create_key(alice_api)["key"]
    User.objects.filter(pk=alice.pk).update(is_active=False)

    assert with_key(key).get("/api/auth/me").status_code == 401


@pytest.mark.parametrize(("body", "field"), [
    ({"scopes": ["read", "admin"]}, "scopes"),
    ({"scopes": []}, "scopes"),
    ({"scopes": "read"}, "scopes"),
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"expiresAt": "2001-01-01T00:00:00Z"}, "expiresAt"),
    ({"expiresAt": "next tuesday"}, "expiresAt"),
])
def test_bad_key_requests_are_400_naming_the_field(alice_api, body, field):
    response = alice_api.post("/api/keys", {"name": "ci", **body}, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not ApiKey.objects.exists()


def test_keys_cannot_manage_keys(alice_api):
    key = create_key(alice_api, scopes=["read", "invoke", "manage"])["key"]

    assert with_key(key).get("/api/keys").status_code == 403
    assert with_key(key).post("/api/keys", {"name": "child", "scopes": ["manage"]}, format="json").status_code == 403
    assert ApiKey.objects.count() == 1


def test_anonymous_callers_have_no_keys(anon):
    assert anon.get("/api/keys").status_code == 401


def test_active_keys_are_capped(alice_api, monkeypatch):
    monkeypatch.setattr(services, "MAX_ACTIVE_API_KEYS", 2)
    create_key(alice_api)
    second = create_key(alice_api)

    assert alice_api.post("/api/keys", {"name": "third"}, format="json").status_code == 400
    alice_api.delete(f"/api/keys/{second['id']}")
    assert alice_api.post("/api/keys", {"name": "third"}, format="json").status_code == 201


def test_keys_in_snake_case(alice_api):
    response = alice_api.post("/api/v1/keys", {"name": "v1", "scopes": ["read"], "expires_at": None}, format="json")

    assert response.status_code == 201 and "expires_at" in response.json() and "created_at" in response.json()
