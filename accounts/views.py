"""Account pages: log in and out, register, profile, security (password, sessions), API keys,
LLM provider keys, email verification and password reset. Session-authenticated and CSRF-protected; the rules are in
accounts.services, as for the API."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.choices import SessionEnd
from accounts.forms import (
    ApiKeyCapForm,
    ApiKeyForm,
    LoginForm,
    PasswordChangeForm,
    PasswordResetRequestForm,
    ProfileForm,
    ProviderKeyForm,
    RegisterForm,
    ResetSetPasswordForm,
    show_errors,
)
from accounts.models import ApiKey, LoginSession, ProviderKey
from accounts.services import provider_key_create
from accounts.signals import WEB_SESSION_ID
from agenthub.api.ownership import owned_by
from agenthub.errors import DomainError, InvalidInput
from agenthub.formatting import money
from billing.services import spent_today_by_key

BACKEND = "accounts.backends.AccountBackend"


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """POST only (Django's rule): a link or an image tag cannot log anyone out."""


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@sensitive_post_parameters("password1", "password2")
def register(request):
    if request.user.is_authenticated:
        return redirect(_next_url(request))
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and (user := form.register()) is not None:
        login(request, user, backend=BACKEND)
        messages.success(request, f"Welcome to AgentHub, {user.username}! We sent a link to {user.email} "
                                  "to confirm your address.")
        return redirect(_next_url(request))
    status = 400 if form.errors else 200
    return render(request, "accounts/register.html", {"form": form, "next": request.GET.get("next", "")},
                  status=status)


def _current_session_id(request) -> str | None:
    return request.session.get(WEB_SESSION_ID)


@login_required
def profile(request):
    user = request.user
    form = ProfileForm(request.POST or None, initial={
        "full_name": user.full_name, "email": user.email, "avatar_url": user.avatar_url, "bio": user.bio,
        "website": user.website,
    })
    if request.method == "POST" and form.is_valid():
        try:
            updated = services.profile_update(user=user, data=form.cleaned_data)
        except InvalidInput as error:
            show_errors(form, error)
        else:
            notice = "Profile saved."
            if not updated.is_verified and updated.email != user.email:
                notice += f" We sent a link to {updated.email} to confirm it."
            messages.success(request, notice)
            return redirect("accounts:profile")
    status = 400 if form.errors else 200
    return render(request, "accounts/profile.html", {"form": form}, status=status)


def _security_page(request, password_form: PasswordChangeForm, *, status: int = 200):
    sessions = list(selectors.session_list_active(user=request.user))
    current = _current_session_id(request)
    for session in sessions:
        session.is_current = str(session.pk) == current
    return render(request, "accounts/security.html", {
        "password_form": password_form, "sessions": sessions, "others": sum(not s.is_current for s in sessions),
    }, status=status)


@login_required
def security(request):
    return _security_page(request, PasswordChangeForm())


@login_required
@require_POST
@sensitive_post_parameters("current_password", "new_password1", "new_password2")
def password_change(request):
    form = PasswordChangeForm(request.POST)
    if form.is_valid():
        keep = LoginSession.objects.filter(pk=_current_session_id(request), user=request.user).first()
        try:
            services.password_change(user=request.user, current_password=form.cleaned_data["current_password"],
                                     new_password=form.cleaned_data["new_password1"], request=request, keep=keep)
        except InvalidInput as error:
            show_errors(form, error, renames={"new_password": "new_password2"})
        else:
            update_session_auth_hash(request, request.user)  # this browser stays signed in
            if keep is not None:
                services.web_session_rekeyed(session_id=keep.pk, session_key=request.session.session_key)
            messages.success(request, "Password changed. Every other session has been signed out.")
            return redirect("accounts:security")
    return _security_page(request, form, status=400)


@login_required
@require_POST
def session_end(request, session_id):
    session = get_object_or_404(owned_by(LoginSession.objects.filter(ended_at__isnull=True), user=request.user),
                                pk=session_id)
    services.session_end(session=session, reason=SessionEnd.SIGNED_OUT)
    if str(session.pk) == _current_session_id(request):
        return redirect(settings.LOGOUT_REDIRECT_URL)
    messages.success(request, "That session is signed out.")
    return redirect("accounts:security")


@login_required
@require_POST
def sessions_end_others(request):
    keep = LoginSession.objects.filter(pk=_current_session_id(request), user=request.user).first()
    ended = services.sessions_end_all(user=request.user, reason=SessionEnd.SIGNED_OUT, keep=keep)
    messages.success(request, f"Signed out of {ended} other session{'s' if ended != 1 else ''}.")
    return redirect("accounts:security")


def _api_keys_page(request, *, form: ApiKeyForm, created: dict | None = None, cap_form: ApiKeyCapForm | None = None,
                   cap_key_id=None, status: int = 200):
    keys = list(selectors.api_key_list(user=request.user))
    spent = spent_today_by_key(user_id=request.user.pk, api_key_ids=[key.pk for key in keys])
    for key in keys:
        key.spent_today = spent[key.pk]
        key.spent_text = money(key.spent_today)
        key.cap_text = money(key.daily_cap) if key.daily_cap is not None else None
        key.cap_percent = (min(round(key.spent_today / key.daily_cap * 100), 100) if key.daily_cap
                           else 100 if key.daily_cap is not None else None)
        key.cap_form = cap_form if key.pk == cap_key_id else ApiKeyCapForm(initial={"daily_cap": key.daily_cap})
    response = render(request, "accounts/api_keys.html", {"form": form, "keys": keys, "created": created},
                      status=status)
    response["Cache-Control"] = "no-store"  # the page may hold a key: never keep it in a cache
    return response


@login_required
def api_keys(request):
    form = ApiKeyForm(request.POST or None)
    created = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                key, raw = services.api_key_create(user=request.user, name=form.cleaned_data["name"],
                                                   scopes=form.cleaned_data["scopes"], expires_at=form.expires_at(),
                                                   daily_cap=form.cleaned_data["daily_cap"])
            except InvalidInput as error:
                show_errors(form, error)
            else:
                # Shown in this response and never again: it is not stored, and not put in the session.
                created, form, status = {"key": key, "raw": raw}, ApiKeyForm(), 201
        if created is None:
            status = 400
    return _api_keys_page(request, form=form, created=created, status=status)


@login_required
@require_POST
def api_key_cap(request, key_id):
    key = get_object_or_404(owned_by(ApiKey.objects.all(), user=request.user), pk=key_id)
    form = ApiKeyCapForm(request.POST)
    if form.is_valid():
        try:
            services.api_key_update(key=key, daily_cap=form.cleaned_data["daily_cap"])
        except InvalidInput as error:
            show_errors(form, error)
        except DomainError as error:  # e.g. revoked meanwhile: its row has no form to show this on
            messages.error(request, error.message)
            return redirect("accounts:api_keys")
        else:
            cap = form.cleaned_data["daily_cap"]
            messages.success(request, f"Key “{key.name}”: daily cap set to {money(cap)} BB." if cap is not None
                             else f"Key “{key.name}”: no daily cap.")
            return redirect("accounts:api_keys")
    return _api_keys_page(request, form=ApiKeyForm(), cap_form=form, cap_key_id=key.pk, status=400)


@login_required
@require_POST
def api_key_revoke(request, key_id):
    key = get_object_or_404(owned_by(ApiKey.objects.all(), user=request.user), pk=key_id)
    services.api_key_revoke(key=key)
    messages.success(request, f"Key “{key.name}” ({key.prefix}…) is revoked.")
    return redirect("accounts:api_keys")


def _provider_keys_page(request, *, form: ProviderKeyForm, status: int = 200):
    # The API's order: the one HubChat tries them in.
    keys = owned_by(ProviderKey.objects.all(), user=request.user).order_by("created_at", "id")
    response = render(request, "accounts/provider_keys.html", {"form": form, "keys": keys}, status=status)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@sensitive_post_parameters("api_key")
def provider_keys(request):
    form = ProviderKeyForm(request.POST or None)
    if request.method != "POST":
        return _provider_keys_page(request, form=form)
    if form.is_valid():
        try:
            key = provider_key_create(user=request.user, **form.provider_key_input)
        except DomainError as error:  # a bad address or model (on its field), or the most keys allowed
            show_errors(form, error)
        else:
            # A redirect, so that nothing of the key stays in this response or in the browser's history.
            messages.success(request, f"Key “{key}” saved. HubChat will try it first.")
            return redirect("accounts:provider_keys")
    return _provider_keys_page(request, form=form, status=400)


@login_required
@require_POST
def provider_key_delete(request, key_id):
    # The API's rule: scoped to the owner, so another user's key is a 404; deleting it is all there is.
    key = get_object_or_404(owned_by(ProviderKey.objects.all(), user=request.user), pk=key_id)
    key.delete()
    messages.success(request, f"Key “{key}” deleted.")
    return redirect("accounts:provider_keys")


def verify_email(request, token: str):
    try:
        user = services.email_verify(token=token)
    except InvalidInput:
        return render(request, "accounts/verify_email.html", {"verified": False}, status=400)
    return render(request, "accounts/verify_email.html", {"verified": True, "verified_user": user})


@login_required
@require_POST
def verify_email_resend(request):
    if request.user.is_verified:
        messages.info(request, "Your email address is already verified.")
    elif services.email_verification_resend(user=request.user):
        messages.success(request, f"We sent a new link to {request.user.email}.")
    else:
        messages.info(request, "A link was sent a moment ago; check your inbox (and spam folder).")
    return redirect("accounts:profile")


def password_reset(request):
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.password_reset_request(email=form.cleaned_data["email"])
        return redirect("accounts:password_reset_sent")
    return render(request, "accounts/password_reset.html", {"form": form}, status=400 if form.errors else 200)


def password_reset_sent(request):
    return render(request, "accounts/password_reset_sent.html")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's view (the token leaves the URL before the form shows); the service sets the password."""

    template_name = "accounts/password_reset_confirm.html"
    form_class = ResetSetPasswordForm
    success_url = reverse_lazy("accounts:password_reset_complete")


def password_reset_complete(request):
    return render(request, "accounts/password_reset_complete.html", {"login_url": reverse("accounts:login")})
