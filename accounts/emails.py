"""The site's emails: a subject and a plain-text body per template, sent by the configured backend."""

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string


def email_send(*, to: str, template: str, context: dict) -> None:
    """Render templates/accounts/email/<template>_subject.txt and <template>.txt and send them."""
    context = {"site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"accounts/email/{template}_subject.txt", context).split())
    body = render_to_string(f"accounts/email/{template}.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
