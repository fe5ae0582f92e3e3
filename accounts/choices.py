from django.db import models


class Role(models.TextChoices):
    """What a person may do. Roles are groups (with their permissions), except admin: a superuser."""

    USER = "user", "User"
    CREATOR = "creator", "Creator"
    REVIEWER = "reviewer", "Reviewer"
    ADMIN = "admin", "Admin"


# The group behind each role that has one.
ROLE_GROUPS = {Role.CREATOR: "Creators", Role.REVIEWER: "Reviewers"}


class Scope(models.TextChoices):
    """What an API key may do. People signed in (JWT or session) hold every scope."""

    READ = "read", "Read"
    INVOKE = "invoke", "Invoke agents"
    MANAGE = "manage", "Manage"


class SessionKind(models.TextChoices):
    WEB = "web", "Browser"
    API = "api", "API (tokens)"


class SessionEnd(models.TextChoices):
    """Why a session ended early."""

    LOGOUT = "logout", "Logged out"
    SIGNED_OUT = "signed_out", "Signed out from another session"
    PASSWORD = "password", "Password changed or reset"
    TOKEN_REUSE = "token_reuse", "A rotated refresh token was used again"
    ADMIN = "admin", "Ended by an admin"
