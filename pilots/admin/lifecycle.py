"""Admin for the life cycle: rounds (their guide, dates and quotas editable, audited); applications and
acceptances read-only, because each of their steps goes through ``pilots.services.lifecycle`` (the API)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from pilots.models import (
    Acceptance, AcceptanceReview, AcceptanceStep, ApplicationRound, ApplicationStep, PilotApplication, RoundQuota,
)
from smartcity.admin_audit import AuditedAdminMixin


def _demo(record) -> str:
    return format_html("<strong>{}</strong>", _("demo, not official")) if record.is_demo else ""


class RoundQuotaInline(admin.TabularInline):
    model = RoundQuota
    extra = 0


@admin.register(ApplicationRound)
class ApplicationRoundAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("year", "title", "programme", "opens_on", "closes_on", "demo_label")
    list_filter = ("programme", "is_demo")
    inlines = [RoundQuotaInline]

    @admin.display(description=_("demo data"), ordering="is_demo")
    def demo_label(self, record):
        return _demo(record)


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ApplicationStepInline(_ReadOnlyInline):
    model = ApplicationStep
    fields = ("action", "from_state", "to_state", "effective_on", "actor", "recorded_at", "comment")
    readonly_fields = fields


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Steps are taken through the API, which checks their order and rules; here they are read."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("demo data"), ordering="is_demo")
    def demo_label(self, record):
        return _demo(record)


@admin.register(PilotApplication)
class PilotApplicationAdmin(_ReadOnlyAdmin):
    list_display = ("name_zh", "county_code", "round", "prefecture", "state", "recommendation_rank", "total_score",
                    "demo_label")
    list_filter = ("round", "state", "is_demo", "prefecture")
    search_fields = ("county_code", "name_zh")
    list_select_related = ("round", "prefecture")
    inlines = [ApplicationStepInline]


class AcceptanceReviewInline(_ReadOnlyInline):
    model = AcceptanceReview
    fields = ("sequence", "reviewed_on", "experts", "scores", "total_score", "conclusion", "rectify_by", "findings")
    readonly_fields = fields


class AcceptanceStepInline(_ReadOnlyInline):
    model = AcceptanceStep
    fields = ("action", "from_state", "to_state", "effective_on", "actor", "recorded_at", "comment")
    readonly_fields = fields


@admin.register(Acceptance)
class AcceptanceAdmin(_ReadOnlyAdmin):
    list_display = ("pilot", "state", "rectify_by", "created_at", "demo_label")
    list_filter = ("state", "is_demo")
    list_select_related = ("pilot",)
    inlines = [AcceptanceReviewInline, AcceptanceStepInline]
