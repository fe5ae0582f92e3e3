from django.urls import re_path

from accounts.api import provider_keys, views
from agenthub.api.routers import OptionalSlashRouter

USERNAME = r"(?P<username>[\w.@+-]{1,150})"

router = OptionalSlashRouter()
router.register("keys", views.ApiKeyViewSet, basename="api-key")
router.register("auth/sessions", views.SessionViewSet, basename="login-session")
router.register("provider-keys", provider_keys.ProviderKeyViewSet, basename="provider-key")


def route(path: str, view, name: str):
    """`path` with or without a trailing slash, as the seed clients call it."""
    return re_path(rf"^{path}/?$", view.as_view(), name=name)


urlpatterns = [
    route("auth/register", views.RegisterView, "auth-register"),
    route("auth/login", views.LoginView, "auth-login"),
    route("auth/refresh", views.RefreshView, "auth-refresh"),
    route("auth/logout", views.LogoutView, "auth-logout"),
    route("auth/me", views.MeView, "auth-me"),
    route("auth/verify-email", views.VerifyEmailView, "auth-verify-email"),
    route("auth/verify-email/resend", views.VerifyEmailResendView, "auth-verify-email-resend"),
    route("auth/password-reset", views.PasswordResetView, "auth-password-reset"),
    route("auth/password-reset/confirm", views.PasswordResetConfirmView, "auth-password-reset-confirm"),
    route("auth/password-change", views.PasswordChangeView, "auth-password-change"),
    route("users/me", views.MeView, "user-me"),
    route(f"users/{USERNAME}", views.PublicProfileView, "user-profile"),
    route(f"users/{USERNAME}/follow", views.FollowView, "user-follow"),
    route(f"users/{USERNAME}/followers", views.FollowersView, "user-followers"),
    route(f"users/{USERNAME}/following", views.FollowingView, "user-following"),
    *router.urls,
]
