"""Small pieces the apps' admins share: coloured status badges, pretty JSON, links, read-only records."""

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

# Status values of every model, by colour (draft/submitted/approved..., pending/running/completed...).
STATUS_COLOURS = {
    "draft": "#6b7280",
    "submitted": "#b45309",
    "approved": "#047857",
    "rejected": "#b91c1c",
    "active": "#15803d",
    "inactive": "#475569",
    "pending": "#6b7280",
    "running": "#1d4ed8",
    "completed": "#15803d",
    "failed": "#b91c1c",
    "timeout": "#b45309",
    "cancelled": "#475569",
    "expired": "#b45309",
    "suspended": "#b91c1c",
    "awaiting_confirmation": "#b45309",
    "in_progress": "#1d4ed8",
    "created": "#6b7280",
    "skipped": "#475569",
}


def badge(value: str, label: str) -> str:
    return format_html(
        '<span style="background:{};color:#fff;padding:2px 8px;border-radius:10px;font-size:11px;'
        'font-weight:600;white-space:nowrap">{}</span>',
        STATUS_COLOURS.get(value, "#6b7280"),
        label,
    )


def pretty_json(value) -> str:
    if value in (None, {}, []):
        return format_html('<span style="color:var(--body-quiet-color)">{}</span>', "(none)")
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)
    return format_html(
        '<pre style="margin:0;max-height:28em;overflow:auto;white-space:pre-wrap;font-size:12px">{}</pre>', text
    )


def admin_link(obj, label: str | None = None) -> str:
    if obj is None:
        return "-"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


class NoWrites:
    """For records only services write (versions, decisions, views, runs): shown, never edited here."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(NoWrites, admin.ModelAdmin):
    """Records written only by services: staff look, nobody edits here."""
