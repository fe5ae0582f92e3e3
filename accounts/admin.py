from django.contrib import admin
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import User


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


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin, fitted to seed 002's profile: one full name, verification, preferences."""

    form = UserChangeForm
    add_form = UserCreationForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Profile", {"fields": ("full_name", "email", "avatar_url", "bio", "website", "preferences")}),
        ("Verification", {"fields": ("is_verified", "email_verified_at")}),
        (
            "Roles and permissions",
            {
                "fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions"),
                "description": "Reviewers are staff in the “Reviewers” group: it holds the permission to "
                "approve and reject agent submissions.",
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
