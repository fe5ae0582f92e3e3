from django.contrib import admin, messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts import services
from accounts.choices import Role, SessionEnd
from accounts.models import ApiKey, Follow, LoginSession, ProviderKey, User
from agenthub.errors import DomainError


def https_url_formfield(db_field, **kwargs):
    """URLs typed without a scheme are https (Django 6's default; saying so now silences its warning)."""
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


class UserChangeForm(auth_forms.UserChangeForm):
    class Meta(auth_forms.UserChangeForm.Meta):
        model = User
        formfield_callback = https_url_formfield


class UserCreationForm(auth_forms.AdminUserCreationForm):
    class Meta(auth_forms.AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "email", "full_name")


class AdminPasswordChangeForm(auth_forms.AdminPasswordChangeForm):
    """A password set by an admin ends every session of that user, as a change or a reset does."""

    def save(self, commit=True):
        user = super().save(commit=commit)
        if commit:
            services.credentials_revoke(user=user, reason=SessionEnd.ADMIN)
        return user


class ReadOnly:
    """Rows written by the services (keys, sessions): the admin looks and acts, never edits."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin, fitted to seed 002's profile: one full name, verification, preferences."""

    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Profile", {"fields": ("full_name", "email", "avatar_url", "bio", "website", "preferences")}),
        ("Verification", {"fields": ("is_verified", "email_verified_at")}),
        (
            "Roles and permissions",
            {
                "fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions"),
                "description": "Roles are groups: “Creators” (given when a first agent is published) and "
                "“Reviewers” (staff who approve and reject submissions; use the actions on the user list). "
                "An admin is a superuser.",
            },
        ),
        ("Important dates", {"fields": ("last_login", "date_joined", "created_at", "updated_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "full_name", "usable_password", "password1", "password2"),
            },
        ),
    )
    readonly_fields = ("last_login", "date_joined", "created_at", "updated_at")
    list_display = (
        "username",
        "email",
        "full_name",
        "is_verified",
        "roles",
        "is_active",
        "date_joined",
        "last_login",
    )
    list_filter = ("is_staff", "is_superuser", "is_active", "is_verified", "groups", "date_joined")
    search_fields = ("username", "email", "full_name")
    ordering = ("username",)
    date_hierarchy = "date_joined"
    actions = ["grant_reviewer", "revoke_reviewer", "end_sessions"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="Roles")
    def roles(self, user: User) -> str:
        # From the prefetched groups, so the list costs no query per row.
        roles = []
        if user.is_superuser:
            roles.append("admin")
        elif user.is_staff:
            roles.append("staff")
        roles += [group.name.lower() for group in user.groups.all()]
        return ", ".join(roles) or "user"

    def _roles(self, request, users, change, verb: str) -> None:
        try:
            for user in users:
                change(user=user, role=Role.REVIEWER, by=request.user)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        self.message_user(request, f"{verb} {len(users)} user(s).", messages.SUCCESS)

    @admin.action(description="Make the selected users reviewers (staff in the Reviewers group)")
    def grant_reviewer(self, request, queryset):
        self._roles(request, list(queryset), services.role_grant, "Made reviewers:")

    @admin.action(description="Take the reviewer role from the selected users")
    def revoke_reviewer(self, request, queryset):
        self._roles(request, list(queryset), services.role_revoke, "No longer reviewers:")

    @admin.action(description="Sign the selected users out everywhere")
    def end_sessions(self, request, queryset):
        ended = sum(services.sessions_end_all(user=user, reason=SessionEnd.ADMIN) for user in queryset)
        self.message_user(request, f"Ended {ended} session(s).", messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "scopes", "created_at", "last_used_at", "expires_at", "revoked_at")
    list_filter = ("revoked_at", "created_at")
    search_fields = ("prefix", "name", "user__username")
    list_select_related = ("user",)
    exclude = ("key_hash",)
    actions = ["revoke"]

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            services.api_key_revoke(key=key)
        self.message_user(request, "Revoked.", messages.SUCCESS)


@admin.register(LoginSession)
class LoginSessionAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("user", "kind", "ip", "created_at", "last_used_at", "expires_at", "ended_at", "end_reason")
    list_filter = ("kind", "end_reason")
    search_fields = ("user__username", "ip")
    list_select_related = ("user",)
    exclude = ("session_key",)
    actions = ["end"]

    @admin.action(description="End the selected sessions")
    def end(self, request, queryset):
        ended = sum(services.session_end(session=session, reason=SessionEnd.ADMIN) for session in queryset)
        self.message_user(request, f"Ended {ended} session(s).", messages.SUCCESS)


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):
    list_display = ("follower", "followed", "created_at")
    search_fields = ("follower__username", "followed__username")
    raw_id_fields = ("follower", "followed")
    list_select_related = ("follower", "followed")


@admin.register(ProviderKey)
class ProviderKeyAdmin(ReadOnly, admin.ModelAdmin):
    """Users' own LLM keys: who has which, by their last four characters; the key is never shown."""

    list_display = ("label", "provider", "last_four", "user", "model", "base_url", "created_at")
    list_filter = ("provider", "created_at")
    search_fields = ("label", "last_four", "user__username")
    list_select_related = ("user",)
    exclude = ("key_encrypted",)
