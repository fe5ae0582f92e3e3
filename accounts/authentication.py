"""How API requests say who they are: a JWT access token, an API key, or the browser's session."""

import uuid

from django.core.exceptions import ValidationError
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework_simplejwt import authentication as simplejwt_authentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings

from accounts import services
from accounts.errors import AuthFailed
from accounts.models import ApiKey, User
from accounts.permissions import required_scope
from accounts.tokens import SESSION_CLAIM

# Query parameters a key or token is sometimes put in. Any value shaped like one of our keys counts too.
_SECRET_PARAMETERS = ("api_key", "apikey", "api-key", "key", "access_token", "token")


def refuse_secrets_in_the_url(request) -> None:
    """Credentials in a URL end up in proxy logs, browser history and Referer headers: refuse them."""
    for name, values in request.query_params.lists():
        looks_like_key = any(value.startswith(services.API_KEY_MARK) for value in values)
        if looks_like_key or (name.lower() in _SECRET_PARAMETERS and any(values)):
            raise exceptions.AuthenticationFailed(
                f"Credentials are not accepted in the URL ({name!r}). Send `Authorization: Api-Key <key>` "
                "or `Authorization: Bearer <token>`, and revoke a key that was sent in a URL: it may have been logged.",
                code="credentials_in_url",
            )


class JWTAuthentication(simplejwt_authentication.JWTAuthentication):
    """`Authorization: Bearer <access token>`; the token's session must still be open."""

    www_authenticate_realm = "api"

    def authenticate(self, request):
        refuse_secrets_in_the_url(request)
        try:
            return super().authenticate(request)
        except InvalidToken:
            # simplejwt's detail lists every token class it tried; one sentence says it better.
            raise exceptions.AuthenticationFailed("The access token is invalid or expired.",
                                                  code="token_not_valid") from None

    def get_user(self, validated_token) -> User:
        try:
            user_id = uuid.UUID(str(validated_token[api_settings.USER_ID_CLAIM]))
            session_id = uuid.UUID(str(validated_token[SESSION_CLAIM]))
        except (KeyError, ValueError, ValidationError):
            raise exceptions.AuthenticationFailed("The access token is invalid.", code="token_not_valid") from None
        # One query, like simplejwt's own lookup: the user, if still active and the session still open.
        try:
            return User.objects.get(
                pk=user_id, is_active=True, login_sessions__pk=session_id, login_sessions__ended_at__isnull=True
            )
        except User.DoesNotExist:
            raise exceptions.AuthenticationFailed("This session has ended; log in again.",
                                                  code="session_ended") from None


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Api-Key <key>`, checked against the view's required scope (accounts.permissions)."""

    keyword = b"api-key"

    def authenticate(self, request):
        refuse_secrets_in_the_url(request)
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send the key as `Authorization: Api-Key <key>`.",
                                                  code="bad_authorization_header")
        try:
            key = services.api_key_authenticate(raw=parts[1].decode("latin-1"))
        except AuthFailed as exc:
            raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from None
        self._check_scope(request, key)
        return key.user, key

    @staticmethod
    def _check_scope(request, key: ApiKey) -> None:
        view = (getattr(request, "parser_context", None) or {}).get("view")
        if view is None:
            return
        if getattr(view, "api_keys_allowed", True) is False:
            raise exceptions.PermissionDenied("API keys cannot do this; sign in instead.")
        scope = required_scope(view=view, request=request)
        if scope not in key.scopes:
            raise exceptions.PermissionDenied(f"This API key does not have the {scope!r} scope.")

    def authenticate_header(self, request) -> str:
        return 'Api-Key realm="api"'


class NoAuthentication(BaseAuthentication):
    """For the endpoints that take credentials in the body (login, refresh, logout, reset):
    a stale `Authorization` header must not stand in the way, yet failures are still 401."""

    def authenticate(self, request):
        refuse_secrets_in_the_url(request)
        return None

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
