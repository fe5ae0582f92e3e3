"""Errors that services raise. They know nothing of HTTP; the API maps each to a status."""


class DomainError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, fields: dict | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code


class InvalidInput(DomainError):
    """The request names something wrong: answered 400 with the fields at fault."""


class NotPermitted(DomainError):
    status_code = 403
    code = "permission_denied"


class Conflict(DomainError):
    """The object is in a state that does not allow this (e.g. approving a draft)."""

    status_code = 409
    code = "conflict"
