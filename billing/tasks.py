"""Thin Celery tasks for Stripe: ids in, a service call, bounded retries."""

from smtplib import SMTPException

from celery import shared_task

from billing import stripe_services
from billing.models import CreditPlanSubscription


@shared_task
def stripe_payments_reconcile() -> dict[str, int]:
    """Celery beat: credit top-ups that Stripe says succeeded but whose webhook never came (once)."""
    return stripe_services.stripe_payments_reconcile()


@shared_task(autoretry_for=(OSError, SMTPException), retry_backoff=True, max_retries=4)
def credit_plan_payment_failed_notify(subscription_id: str) -> None:
    subscription = CreditPlanSubscription.objects.select_related("plan", "user").filter(pk=subscription_id).first()
    if subscription is not None:
        stripe_services.credit_plan_payment_failed_email(subscription=subscription)
