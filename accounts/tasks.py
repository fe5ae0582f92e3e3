"""Emails go out from tasks, after the request's transaction commits: a slow mail server never
holds up a response, and how long a password-reset request takes says nothing about whether the
address has an account. Tasks take ids; the links (and their tokens) are made in the task."""

from smtplib import SMTPException

from celery import shared_task

from accounts import services
from accounts.models import User

_TRANSIENT = (OSError, SMTPException)


@shared_task(autoretry_for=_TRANSIENT, retry_backoff=True, max_retries=4)
def verification_email_send(user_id: str) -> None:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is not None and not user.is_verified:
        services.email_verification_send(user=user)


@shared_task(autoretry_for=_TRANSIENT, retry_backoff=True, max_retries=4)
def password_reset_email_send(user_id: str) -> None:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is not None:
        services.password_reset_email_send(user=user)


@shared_task
def expired_credentials_delete() -> dict[str, int]:
    """Daily (celery beat): expired refresh tokens and long-ended sessions."""
    return services.credentials_expired_delete()
