"""Tokens: JWT access and refresh tokens tied to a login session, and the email-link tokens.

A refresh token is single-use. Refreshing consumes it with one INSERT into simplejwt's blacklist,
whose one-to-one column is unique: of any number of simultaneous refreshes with one token,
exactly one insert succeeds and the others fail on the constraint (stock simplejwt checks the
blacklist and then inserts, so two requests can both pass the check). A token that fails to be
consumed was rotated already: that is a replay, and the whole session (every token issued from
the same login) is ended.
"""

import hashlib

from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.db import IntegrityError, transaction
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework_simplejwt import tokens as simplejwt_tokens
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts.models import LoginSession, User

SESSION_CLAIM = "sid"


class AccessToken(simplejwt_tokens.AccessToken):
    """`token_type: access`, five minutes at most, and the id of the session it belongs to."""

    def verify(self) -> None:
        super().verify()
        if SESSION_CLAIM not in self.payload:
            raise TokenError("Token has no session")


class RefreshToken(simplejwt_tokens.RefreshToken):
    access_token_class = AccessToken

    def check_blacklist(self) -> None:
        # Deliberately empty: "is it blacklisted?" followed by "blacklist it" is the race this
        # module exists to avoid. refresh_token_consume() answers both in one INSERT.
        return None

    def verify(self) -> None:
        super().verify()
        if SESSION_CLAIM not in self.payload:
            raise TokenError("Token has no session")


def token_fingerprint(raw: str) -> str:
    """What is stored instead of a token: a database dump must not hold live refresh tokens."""
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def token_pair_issue(*, user: User, session: LoginSession) -> dict[str, str]:
    """A new refresh token (recorded as outstanding) and its access token, both in `session`."""
    refresh = RefreshToken()
    refresh[api_settings.USER_ID_CLAIM] = str(user.pk)
    refresh[SESSION_CLAIM] = str(session.pk)
    raw = str(refresh)
    expires_at = datetime_from_epoch(refresh["exp"])
    OutstandingToken.objects.create(
        user=user, jti=refresh[api_settings.JTI_CLAIM], token=token_fingerprint(raw),
        created_at=refresh.current_time, expires_at=expires_at,
    )
    return {"access": str(refresh.access_token), "refresh": raw}


def refresh_token_read(raw: str) -> RefreshToken:
    """Signature, expiry, type and claims checked; raises TokenError."""
    return RefreshToken(raw)


def refresh_token_consume(outstanding: OutstandingToken) -> bool:
    """Mark a refresh token used. True for exactly one caller, however many race (see the module doc)."""
    try:
        with transaction.atomic():  # a savepoint: the failed INSERT must not spoil the caller's transaction
            BlacklistedToken.objects.create(token=outstanding)
    except IntegrityError:
        return False
    return True


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    """Links that prove an address: bound to the user, the address and the verified flag, so a
    link stops working once used or once the address changes. Valid PASSWORD_RESET_TIMEOUT seconds."""

    key_salt = "accounts.tokens.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        return f"{user.pk}{user.email}{user.is_verified}{timestamp}"


email_verification_tokens = EmailVerificationTokenGenerator()


def email_verification_token_make(user: User) -> str:
    """One opaque string (the API takes just `{"token"}`): the user's id and the generator's token."""
    return f"{urlsafe_base64_encode(force_bytes(user.pk))}.{email_verification_tokens.make_token(user)}"
