"""Browser logins (the site and the admin) are recorded as sessions, so the security page can list
them and sign them out. Django's own login signals are the one place every such login passes."""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from accounts import services
from accounts.choices import SessionEnd
from accounts.lockout import client_ip
from accounts.models import LoginSession

WEB_SESSION_ID = "accounts_login_session"


@receiver(user_logged_in, dispatch_uid="accounts.record_web_session")
def record_web_session(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    if session is None:
        return
    if not session.session_key:
        session.save()
    login_session = services.session_start_web(
        user=user, session_key=session.session_key, expires_at=session.get_expiry_date(),
        ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    session[WEB_SESSION_ID] = str(login_session.pk)


@receiver(user_logged_out, dispatch_uid="accounts.end_web_session")
def end_web_session(sender, request, user, **kwargs):
    session_id = getattr(request, "session", {}).get(WEB_SESSION_ID)
    login_session = LoginSession.objects.filter(pk=session_id).first() if session_id else None
    if login_session is not None:
        # Django flushes the browser session itself, right after this signal.
        services.session_end(session=login_session, reason=SessionEnd.LOGOUT, keep_browser_session=True)
