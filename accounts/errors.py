"""Errors of the accounts services. Like agenthub.errors, they know nothing of HTTP responses."""

from agenthub.errors import DomainError


class AuthFailed(DomainError):
    """Credentials or a token that do not prove who the caller is (the API answers 401)."""

    status_code = 401
    code = "authentication_failed"


class LoginLocked(DomainError):
    """Too many failed logins for this account or from this address in the window (429)."""

    status_code = 429
    code = "throttled"

    def __init__(self, retry_after: int):
        minutes = "a minute" if retry_after <= 60 else f"{-(-retry_after // 60)} minutes"
        super().__init__(f"Too many failed logins. Try again in {minutes}.")
        self.retry_after = max(1, int(retry_after))
