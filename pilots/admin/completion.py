"""Admin for the completion rules' thresholds (audited)."""

from __future__ import annotations

from django.contrib import admin

from pilots.models import CompletionSettings
from smartcity.admin_audit import AuditedAdminMixin


@admin.register(CompletionSettings)
class CompletionSettingsAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """The completion rules' thresholds, one row per programme (created with the defaults on the first run)."""

    list_display = ("programme", "ahead_above", "behind_below", "critical_below", "stalled_periods",
                    "ahead_of_plan_margin", "updated_at")
    readonly_fields = ("updated_at",)
