"""Writes to accounts: registration, logins and sessions, token rotation, passwords, email
verification, API keys, follows and roles. Views, the admin and tasks all come through here."""

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import import_module
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import emails, tasks
from accounts.choices import ROLE_GROUPS, Role, Scope, SessionEnd, SessionKind
from accounts.errors import AuthFailed
from accounts.lockout import login_attempt_begin
from accounts.models import ApiKey, Follow, LoginSession, ProviderKey, User
from accounts.tokens import (
    SESSION_CLAIM,
    email_verification_token_make,
    email_verification_tokens,
    refresh_token_consume,
    refresh_token_read,
    token_pair_issue,
)
from agenthub import netguard
from agenthub.errors import Conflict, InvalidInput, NotPermitted

logger = logging.getLogger(__name__)

RESERVED_USERNAMES = frozenset({
    "me", "admin", "administrator", "api", "root", "staff", "support", "system", "agenthub", "anonymous",
    "login", "logout", "register", "settings", "security", "keys",
})
EMAIL_RESEND_INTERVAL = 60  # seconds between two verification or reset emails to one account
API_KEY_MARK = "ahk_"
API_KEY_PREFIX_LENGTH = 12
MAX_ACTIVE_API_KEYS = 50
API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)  # lastUsedAt is written at most this often


# --- Registration, profile ----------------------------------------------------------------------


def _username_errors(username: str) -> list[str]:
    if "@" in username:
        return ["A username cannot contain “@” (that is how email addresses are told apart at login)."]
    if username.lower() in RESERVED_USERNAMES:
        return ["This username is reserved."]
    if User.objects.filter(username__iexact=username).exists():
        return ["A user with that username already exists."]
    return []


def _email_taken(email: str, *, besides: User | None = None) -> bool:
    users = User.objects.filter(email__iexact=email)
    if besides is not None:
        users = users.exclude(pk=besides.pk)
    return users.exists()


def _password_errors(password: str, user: User) -> list[str]:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        return list(exc.messages)
    return []


@transaction.atomic
def user_register(*, username: str, email: str, password: str, full_name: str = "") -> User:
    """A new account (role: user) and a verification email. Everything wrong is named at once."""
    email = User.objects.normalize_email(email.strip())
    user = User(username=username.strip(), email=email, full_name=full_name.strip())
    errors = {}
    if problems := _username_errors(user.username):
        errors["username"] = problems
    if _email_taken(email):
        errors["email"] = ["An account with this email address already exists."]
    if problems := _password_errors(password, user):
        errors["password"] = problems
    if errors:
        raise InvalidInput("Invalid input: " + ", ".join(errors) + ".", fields=errors)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # a simultaneous registration took the name or the address
        raise InvalidInput("That username or email address was just taken.",
                           fields={"username": ["Already taken."], "email": ["Already taken."]}) from None
    transaction.on_commit(lambda: tasks.verification_email_send.delay(str(user.pk)))
    logger.info("user registered", extra={"user": str(user.pk)})
    return user


PROFILE_FIELDS = ("full_name", "avatar_url", "bio", "website", "preferences", "email")


@transaction.atomic
def profile_update(*, user: User, data: dict) -> User:
    """Change the profile. A new email address is unverified until its link is followed."""
    user = User.objects.select_for_update().get(pk=user.pk)
    changed = []
    for name in PROFILE_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if name == "email":
            value = User.objects.normalize_email(value.strip())
            if value.lower() == user.email.lower():
                continue
            if _email_taken(value, besides=user):
                raise InvalidInput("That email address is taken.",
                                   fields={"email": ["An account with this email address already exists."]})
            user.is_verified, user.email_verified_at = False, None
            changed += ["is_verified", "email_verified_at"]
            transaction.on_commit(lambda: tasks.verification_email_send.delay(str(user.pk)))
        setattr(user, name, value)
        changed.append(name)
    if changed:
        user.save(update_fields=[*changed, "updated_at"])
    return user


# --- Email verification -------------------------------------------------------------------------


def email_verification_send(*, user: User) -> None:
    """Called by the task: the link is made here, so the token never travels through the broker."""
    token = email_verification_token_make(user)
    emails.email_send(to=user.email, template="verify_email", context={
        "user": user, "url": f"{settings.SITE_URL}/accounts/verify-email/{token}/",
    })


def email_verification_resend(*, user: User) -> bool:
    """Send the link again, at most once a minute. False when already verified or sent just now."""
    if user.is_verified or not cache.add(f"accounts:verify-sent:{user.pk}", 1, EMAIL_RESEND_INTERVAL):
        return False
    transaction.on_commit(lambda: tasks.verification_email_send.delay(str(user.pk)))
    return True


def _user_from_uid(uid: str) -> User | None:
    try:
        return User.objects.filter(pk=force_str(urlsafe_base64_decode(uid))).first()
    except (ValueError, TypeError, OverflowError, ValidationError):
        return None


@transaction.atomic
def email_verify(*, token: str) -> User:
    """Mark the address verified. A link used twice, or for an address since changed, is refused."""
    uid, _, secret = (token or "").partition(".")
    user = _user_from_uid(uid) if secret else None
    if user is None or not user.is_active:
        raise InvalidInput("This verification link is invalid.", fields={"token": ["Invalid or expired."]})
    user = User.objects.select_for_update().get(pk=user.pk)
    if email_verification_tokens.check_token(user, secret):
        user.is_verified, user.email_verified_at = True, timezone.now()
        user.save(update_fields=["is_verified", "email_verified_at", "updated_at"])
        return user
    if user.is_verified:
        return user  # the link was followed before: nothing to do, nothing to complain about
    raise InvalidInput("This verification link is invalid or has expired.", fields={"token": ["Invalid or expired."]})


# --- Passwords ----------------------------------------------------------------------------------


def password_reset_request(*, email: str) -> None:
    """Email a reset link to the account with this address, if there is one.

    The caller answers the same whether or not there is (no account discovery), and the email
    goes out from a task after the response, so the time taken does not tell either.
    """
    try:
        validate_email(email)
    except ValidationError:
        return
    for user in User.objects.filter(email__iexact=email.strip(), is_active=True):
        if user.has_usable_password() and cache.add(f"accounts:reset-sent:{user.pk}", 1, EMAIL_RESEND_INTERVAL):
            transaction.on_commit(lambda user_id=str(user.pk): tasks.password_reset_email_send.delay(user_id))


def password_reset_link(user: User) -> tuple[str, str, str]:
    """(uid, token, page URL) for a reset email."""
    uid = urlsafe_base64_encode(str(user.pk).encode())
    token = default_token_generator.make_token(user)
    return uid, token, f"{settings.SITE_URL}/accounts/reset/{uid}/{token}/"


def password_reset_email_send(*, user: User) -> None:
    uid, token, url = password_reset_link(user)
    emails.email_send(to=user.email, template="password_reset", context={
        "user": user, "url": url, "uid": uid, "token": token,
        "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
    })


def password_reset_check(*, uid: str, token: str) -> User:
    user = _user_from_uid(uid)
    if user is None or not user.is_active or not default_token_generator.check_token(user, token):
        raise InvalidInput("This password reset link is invalid or has expired; ask for a new one.",
                           fields={"token": ["Invalid or expired."]})
    return user


@transaction.atomic
def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Set a new password from an emailed link's uid and token."""
    user = password_reset_check(uid=uid, token=token)
    password_reset_complete(user=user, new_password=new_password)
    return user


@transaction.atomic
def password_reset_complete(*, user: User, new_password: str) -> None:
    """The last step of a reset (the link was checked): new password, every session ended."""
    _password_set(user=user, new_password=new_password, field="new_password")
    if not user.is_verified:  # following the emailed link proved the address
        user.is_verified, user.email_verified_at = True, timezone.now()
        user.save(update_fields=["is_verified", "email_verified_at", "updated_at"])
    logger.info("password reset", extra={"user": str(user.pk)})


@transaction.atomic
def password_change(*, user: User, current_password: str, new_password: str, request=None,
                    keep: LoginSession | None = None) -> None:
    """Change a password knowing the current one. Every other session ends (`keep` survives)."""
    # Guessing the current password from a stolen session is guessing a login: same guard.
    attempt = login_attempt_begin(request=request, account=f"user:{user.pk}")
    if not user.check_password(current_password):
        raise InvalidInput("The current password is wrong.", fields={"current_password": ["Wrong password."]})
    attempt.succeeded()
    _password_set(user=user, new_password=new_password, field="new_password", keep=keep)
    logger.info("password changed", extra={"user": str(user.pk)})


def _password_set(*, user: User, new_password: str, field: str, keep: LoginSession | None = None) -> None:
    if problems := _password_errors(new_password, user):
        raise InvalidInput(f"Invalid input: {field}.", fields={field: problems})
    user.set_password(new_password)
    user.save(update_fields=["password", "updated_at"])
    credentials_revoke(user=user, reason=SessionEnd.PASSWORD, keep=keep)


def credentials_revoke(*, user: User, reason: str, keep: LoginSession | None = None) -> None:
    """After a password change: every session ends (but `keep`), every refresh token is blacklisted."""
    sessions_end_all(user=user, reason=reason, keep=keep)
    # Blacklisted too, not only refused through their sessions: the tokens themselves are dead.
    live = OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True)
    BlacklistedToken.objects.bulk_create([BlacklistedToken(token=token) for token in live], ignore_conflicts=True)


# --- Logins, sessions and tokens ----------------------------------------------------------------


def _agent_text(user_agent: str) -> str:
    return (user_agent or "")[:300]


def auth_login(*, request, identifier: str, password: str, ip: str | None, user_agent: str) -> tuple[User, dict]:
    """Check the credentials (behind the brute-force guard) and open an API session: tokens."""
    user = authenticate(request, username=identifier, password=password)
    if user is None:
        raise AuthFailed("No active account with these credentials.", code="invalid_credentials")
    session, pair = api_session_start(user=user, ip=ip, user_agent=user_agent)
    logger.info("api login", extra={"user": str(user.pk), "session": str(session.pk)})
    return user, pair


@transaction.atomic
def api_session_start(*, user: User, ip: str | None, user_agent: str) -> tuple[LoginSession, dict]:
    """A new token session for `user` and its first token pair."""
    session = LoginSession.objects.create(
        user=user, kind=SessionKind.API, ip=ip, user_agent=_agent_text(user_agent),
        expires_at=timezone.now() + jwt_settings.REFRESH_TOKEN_LIFETIME,
    )
    pair = token_pair_issue(user=user, session=session)
    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    return session, pair


def _refresh_failed(message: str = "The refresh token is invalid or expired.", code: str = "token_not_valid"):
    return AuthFailed(message, code=code)


def auth_refresh(*, raw: str, ip: str | None, user_agent: str) -> dict[str, str]:
    """Rotate a refresh token: a new pair, and the old token dead. A replayed token ends its session."""
    try:
        token = refresh_token_read(raw)
    except TokenError:
        raise _refresh_failed() from None
    with transaction.atomic():
        outstanding = OutstandingToken.objects.filter(jti=token[jwt_settings.JTI_CLAIM]).first()
        session = (LoginSession.objects.select_related("user")
                   .filter(pk=token[SESSION_CLAIM], kind=SessionKind.API).first())
        if outstanding is None or session is None or str(session.user_id) != token.get(jwt_settings.USER_ID_CLAIM):
            raise _refresh_failed()
        if session.ended_at is not None:
            raise _refresh_failed("This session has ended; log in again.", code="session_ended")
        if not session.user.is_active:
            raise _refresh_failed("This account is disabled.", code="user_inactive")
        consumed = refresh_token_consume(outstanding)
        if consumed:
            pair = token_pair_issue(user=session.user, session=session)
            LoginSession.objects.filter(pk=session.pk).update(
                last_used_at=timezone.now(), ip=ip or session.ip,
                user_agent=_agent_text(user_agent) or session.user_agent,
                expires_at=timezone.now() + jwt_settings.REFRESH_TOKEN_LIFETIME,
            )
    if consumed:
        return pair
    # The token was rotated before: whoever holds it now may be a thief replaying it, or the thief
    # may already hold its successor. Ending the session ends both. (Outside the block above, so
    # that it is committed although the request fails.)
    session_end(session=session, reason=SessionEnd.TOKEN_REUSE)
    logger.warning("refresh token reused: session ended",
                   extra={"user": str(session.user_id), "session": str(session.pk)})
    raise _refresh_failed("This refresh token was already used, so its session has been ended. Log in again.",
                          code="token_reused")


def auth_logout(*, raw: str) -> None:
    """Blacklist the refresh token and end its session (its access tokens stop working too)."""
    try:
        token = refresh_token_read(raw)
    except TokenError:
        raise _refresh_failed() from None
    outstanding = OutstandingToken.objects.filter(jti=token[jwt_settings.JTI_CLAIM]).first()
    if outstanding is not None:
        BlacklistedToken.objects.get_or_create(token=outstanding)
    session = LoginSession.objects.filter(
        pk=token[SESSION_CLAIM], user_id=token.get(jwt_settings.USER_ID_CLAIM)
    ).first()
    if session is not None:
        session_end(session=session, reason=SessionEnd.LOGOUT)


def session_start_web(*, user: User, session_key: str, expires_at: datetime, ip: str | None,
                      user_agent: str) -> LoginSession:
    return LoginSession.objects.create(
        user=user, kind=SessionKind.WEB, session_key=session_key or "", ip=ip,
        user_agent=_agent_text(user_agent), expires_at=expires_at,
    )


def _session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def session_end(*, session: LoginSession, reason: str, keep_browser_session: bool = False) -> bool:
    """End one session: its tokens stop working, and a browser is logged out. False if it had ended."""
    ended = LoginSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=reason
    )
    if session.kind == SessionKind.WEB and session.session_key and not keep_browser_session:
        _session_store()(session_key=session.session_key).delete()
    return bool(ended)


def sessions_end_all(*, user: User, reason: str, keep: LoginSession | None = None) -> int:
    """End every open session of `user` except `keep`. Returns how many ended."""
    sessions = LoginSession.objects.filter(user=user, ended_at__isnull=True)
    if keep is not None:
        sessions = sessions.exclude(pk=keep.pk)
    return sum(session_end(session=session, reason=reason) for session in sessions)


def session_end_for(*, user: User, session_id, reason: str = SessionEnd.SIGNED_OUT) -> LoginSession:
    """End one of `user`'s own sessions. Anyone else's does not exist (404 upstream)."""
    session = LoginSession.objects.get(pk=session_id, user=user)
    session_end(session=session, reason=reason)
    return session


def web_session_rekeyed(*, session_id, session_key: str) -> None:
    """Django gives a browser session a new key when its password changes: follow it."""
    LoginSession.objects.filter(pk=session_id).update(session_key=session_key)


# --- API keys -----------------------------------------------------------------------------------


def _api_key_hash(raw: str) -> str:
    # A plain hash is enough: the key has 256 random bits, nothing to brute-force (unlike a password).
    return hashlib.sha256(raw.encode()).hexdigest()


def _scope_errors(scopes) -> list[str]:
    if not isinstance(scopes, list) or not scopes:
        return ["Name at least one scope: " + ", ".join(Scope.values) + "."]
    unknown = sorted({str(scope) for scope in scopes} - set(Scope.values))
    if unknown:
        return [f"Unknown scope(s): {', '.join(unknown)}. Known: {', '.join(Scope.values)}."]
    return []


def _name_errors(name) -> list[str]:
    return [] if (name or "").strip() else ["Give the key a name, e.g. the program that will use it."]


API_KEY_CAP_MAX = Decimal("9999999999.9999")  # what the column holds (14 digits, 4 after the point)


def _daily_cap_errors(daily_cap) -> list[str]:
    if daily_cap is None:
        return []
    if not isinstance(daily_cap, Decimal) or not daily_cap.is_finite():
        return ["Give an amount in BB, e.g. 5 or 2.5, or nothing for no cap."]
    if daily_cap < 0:
        return ["Must be 0 or more (0 lets the key start no paid run)."]
    if daily_cap.as_tuple().exponent < -4:
        return ["At most 4 decimal places."]
    if daily_cap > API_KEY_CAP_MAX:
        return [f"At most {API_KEY_CAP_MAX} BB."]
    return []


def _invalid(errors: dict) -> InvalidInput:
    return InvalidInput("Invalid input: " + ", ".join(errors) + ".", fields=errors)


@transaction.atomic
def api_key_create(*, user: User, name: str, scopes: list[str], expires_at: datetime | None = None,
                   daily_cap: Decimal | None = None) -> tuple[ApiKey, str]:
    """A new key. Returns (the row, the key itself): the key is shown once and never stored.
    `daily_cap`: the most the runs it starts may cost per day (UTC), in BB; None for no cap."""
    errors = {}
    if problems := _name_errors(name):
        errors["name"] = problems
    if problems := _scope_errors(scopes):
        errors["scopes"] = problems
    if problems := _daily_cap_errors(daily_cap):
        errors["daily_cap"] = problems
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = ["Must be in the future."]
    if errors:
        raise _invalid(errors)
    User.objects.select_for_update().filter(pk=user.pk).first()  # one creation at a time per user: the cap holds
    active = ApiKey.objects.filter(user=user, revoked_at__isnull=True).exclude(expires_at__lte=timezone.now())
    if active.count() >= MAX_ACTIVE_API_KEYS:
        raise InvalidInput(f"You have {MAX_ACTIVE_API_KEYS} active keys; revoke one first.",
                           fields={"name": ["Too many active keys."]})
    prefix = secrets.token_hex(API_KEY_PREFIX_LENGTH // 2)
    raw = f"{API_KEY_MARK}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        user=user, name=name.strip(), prefix=prefix, key_hash=_api_key_hash(raw),
        scopes=[scope for scope in Scope.values if scope in scopes], expires_at=expires_at, daily_cap=daily_cap,
    )
    logger.info("api key created", extra={"user": str(user.pk), "prefix": prefix})
    return key, raw


_UNSET = object()


def api_key_update(*, key: ApiKey, name=_UNSET, daily_cap=_UNSET) -> ApiKey:
    """Rename a key or set its daily cap (None removes it); what is left out keeps its value.
    A new cap applies from the next run the key starts, counting what it spent today already."""
    changes, errors = {}, {}
    if name is not _UNSET:
        if problems := _name_errors(name):
            errors["name"] = problems
        else:
            changes["name"] = name.strip()
    if daily_cap is not _UNSET:
        if problems := _daily_cap_errors(daily_cap):
            errors["daily_cap"] = problems
        else:
            changes["daily_cap"] = daily_cap
    if errors:
        raise _invalid(errors)
    if key.revoked_at is not None:
        raise Conflict("This key is revoked; create a new one.", code="api_key_revoked")
    if changes:
        ApiKey.objects.filter(pk=key.pk).update(**changes)
        key.refresh_from_db(fields=list(changes))
        logger.info("api key changed", extra={"user": str(key.user_id), "prefix": key.prefix,
                                              "fields": sorted(changes)})
    return key


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """Revoke a key; the very next request with it is refused. Revoking twice changes nothing."""
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    key.refresh_from_db(fields=["revoked_at"])
    logger.info("api key revoked", extra={"user": str(key.user_id), "prefix": key.prefix})
    return key


def api_key_authenticate(*, raw: str) -> ApiKey:
    """The key `raw` names, if it is genuine, unexpired and unrevoked (AuthFailed otherwise)."""
    prefix = raw[len(API_KEY_MARK):len(API_KEY_MARK) + API_KEY_PREFIX_LENGTH] if raw.startswith(API_KEY_MARK) else ""
    key = ApiKey.objects.select_related("user").filter(prefix=prefix).order_by().first() if prefix else None
    # Compared in constant time: how long a mismatch takes says nothing about how close the guess was.
    if key is None or not hmac.compare_digest(_api_key_hash(raw), key.key_hash):
        raise AuthFailed("Invalid API key.", code="invalid_api_key")
    now = timezone.now()
    if key.revoked_at is not None:
        raise AuthFailed("This API key has been revoked.", code="api_key_revoked")
    if key.expires_at is not None and key.expires_at <= now:
        raise AuthFailed("This API key has expired.", code="api_key_expired")
    if not key.user.is_active:
        raise AuthFailed("This account is disabled.", code="user_inactive")
    if key.last_used_at is None or key.last_used_at < now - API_KEY_TOUCH_INTERVAL:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


# --- Follows ------------------------------------------------------------------------------------


def follow_create(*, follower: User, followed: User) -> tuple[Follow, bool]:
    """Follow someone (again: no change). Returns (the follow, whether it is new)."""
    if follower.pk == followed.pk:
        raise InvalidInput("You cannot follow yourself.", fields={"username": ["You cannot follow yourself."]})
    try:
        with transaction.atomic():
            return Follow.objects.get_or_create(follower=follower, followed=followed)
    except IntegrityError:  # the same follow, twice at once
        return Follow.objects.get(follower=follower, followed=followed), False


def follow_delete(*, follower: User, followed: User) -> bool:
    deleted, _ = Follow.objects.filter(follower=follower, followed=followed).delete()
    return bool(deleted)


# --- Roles --------------------------------------------------------------------------------------


@transaction.atomic
def role_grant(*, user: User, role: str, by: User | None = None) -> User:
    """Give a role. Reviewer and admin are granted by admins only (`by` must be a superuser)."""
    role = Role(role)
    if role in (Role.REVIEWER, Role.ADMIN) and not (by is not None and by.is_superuser):
        raise NotPermitted("Only admins grant the reviewer and admin roles.")
    if role == Role.ADMIN:
        User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    elif role != Role.USER:
        user.groups.add(Group.objects.get(name=ROLE_GROUPS[role]))
        if role == Role.REVIEWER:  # reviewers work in the admin's review queue
            User.objects.filter(pk=user.pk).update(is_staff=True)
    user.refresh_from_db()
    logger.info("role granted", extra={"user": str(user.pk), "role": str(role), "by": str(by.pk) if by else None})
    return user


@transaction.atomic
def role_revoke(*, user: User, role: str, by: User) -> User:
    role = Role(role)
    if not by.is_superuser:
        raise NotPermitted("Only admins take roles away.")
    if role == Role.ADMIN:
        User.objects.filter(pk=user.pk).update(is_superuser=False)
    elif role in ROLE_GROUPS:
        user.groups.remove(Group.objects.get(name=ROLE_GROUPS[role]))
        if role == Role.REVIEWER and not user.is_superuser:
            User.objects.filter(pk=user.pk).update(is_staff=False)
    user.refresh_from_db()
    return user


def creator_role_grant(*, user: User) -> None:
    """A user becomes a creator when their first agent is published (approved into the catalog)."""
    group, created = Group.objects.get_or_create(name=ROLE_GROUPS[Role.CREATOR])
    if created:  # made by a migration; made again after a flushed database (tests, a fresh seed)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="marketplace", codename="add_agent"))
    user.groups.add(group)  # adding twice is a no-op


# --- Housekeeping -------------------------------------------------------------------------------

EXPIRED_KEPT_FOR = timedelta(days=30)  # ended sessions stay visible to admins this long


def credentials_expired_delete(*, now: datetime | None = None) -> dict[str, int]:
    """Forget refresh tokens past their expiry, and sessions that ended (or expired) a while ago."""
    now = now or timezone.now()
    tokens, _ = OutstandingToken.objects.filter(expires_at__lt=now).delete()  # their blacklist rows go too
    sessions, _ = LoginSession.objects.filter(expires_at__lt=now - EXPIRED_KEPT_FOR).delete()
    ended, _ = LoginSession.objects.filter(ended_at__lt=now - EXPIRED_KEPT_FOR).delete()
    return {"tokens": tokens, "sessions": sessions + ended}


# --- Users' own LLM provider keys (HubChat) -----------------------------------------------------


def provider_key_create(*, user: User, provider: str, label: str = "", api_key: str = "", base_url: str = "",
                        model: str = "") -> ProviderKey:
    """Store a user's provider key, encrypted. Bad combinations are a 400 naming the field."""
    compatible = provider == ProviderKey.Provider.OPENAI_COMPATIBLE
    errors = {}
    if not compatible and not api_key:
        errors["api_key"] = ["This field is required."]
    if compatible:
        if not base_url:
            errors["base_url"] = ["The server's address is required."]
        elif urlsplit(base_url).query or urlsplit(base_url).fragment:
            errors["base_url"] = ["Give the API's root address, without a query string (the key goes in api_key)."]
        else:
            # The platform will call this address: only http(s) and, outside development, only public hosts.
            try:
                netguard.resolve_destination(base_url)
            except netguard.UnsafeURL as error:
                errors["base_url"] = [str(error)]
        if not model:
            errors["model"] = ["Name the model the server should run."]
    elif base_url:
        errors["base_url"] = ["Only an openai_compatible key has its own address."]
    if errors:
        raise _invalid(errors)
    with transaction.atomic():
        # The user's row is the lock that keeps two concurrent creations from passing the cap together.
        User.objects.select_for_update().filter(pk=user.pk).first()
        if ProviderKey.objects.filter(user=user).count() >= settings.HUBCHAT_MAX_PROVIDER_KEYS:
            raise Conflict(f"You have {settings.HUBCHAT_MAX_PROVIDER_KEYS} provider keys, the most allowed; "
                           "delete one first.")
        key = ProviderKey(user=user, provider=provider, label=label.strip(), base_url=base_url.rstrip("/"),
                          model=model.strip())
        key.set_key(api_key)
        key.save()
    return key
