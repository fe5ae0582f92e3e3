from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import Q

from accounts.lockout import login_attempt_begin

UserModel = get_user_model()


def user_by_login(identifier: str):
    """The account a login names: a username, or an email address (both case-insensitive)."""
    identifier = identifier.strip()
    if not identifier:
        return None
    matches = list(UserModel._default_manager.filter(Q(username__iexact=identifier) | Q(email__iexact=identifier))[:2])
    # A username that looks like someone else's email address: the username wins (new usernames
    # cannot contain "@", so this only concerns accounts older than that rule).
    matches.sort(key=lambda user: user.username.lower() != identifier.lower())
    return matches[0] if matches else None


class AccountBackend(ModelBackend):
    """Django's model backend with a username *or* an email address, behind the brute-force guard.

    Every login goes through here (the API, the pages, the admin), so none can skip the guard.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        identifier = username if username is not None else kwargs.get("email")
        if not identifier or password is None:
            return None
        user = user_by_login(identifier)
        # Keyed on the account, so its username and its email address share one counter.
        attempt = login_attempt_begin(request=request, account=f"user:{user.pk}" if user else identifier)
        if user is None:
            UserModel().set_password(password)  # as slow as a real check: no "no such user" timing signal
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            attempt.succeeded()
            return user
        return None
