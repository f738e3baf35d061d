"""Admin for the registry. Every change is audited (``AuditedAdminMixin``)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from pilots.models import CompletionSettings, Membership, Organisation, Pilot, PilotStateChange, Prefecture
from pilots.services.registry import pilot_record_initial_state
from smartcity.admin_audit import AuditedAdminMixin
from smartcity.audit import ChangeContext
from smartcity.models import AuditEntry


@admin.register(Prefecture)
class PrefectureAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en")
    search_fields = ("code", "name_zh", "name_en")


class PilotStateChangeInline(admin.TabularInline):
    """The life-cycle history is read here; it is written by the services that change a pilot's state."""

    model = PilotStateChange
    extra = 0
    fields = ("state", "effective_on", "note", "recorded_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Pilot)
class PilotAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name_zh", "code", "prefecture", "state", "batch_year", "designated_on", "demo_label", "programme")
    list_filter = ("programme", "state", "batch_year", "is_demo", "prefecture")
    search_fields = ("code", "name_zh", "name_en")
    list_select_related = ("prefecture", "programme")
    inlines = [PilotStateChangeInline]

    @admin.display(description=_("demo data"), ordering="is_demo")
    def demo_label(self, pilot: Pilot):
        return format_html("<strong>{}</strong>", _("demo, not official")) if pilot.is_demo else ""

    def get_readonly_fields(self, request, obj=None):
        # A state change must also enter the life-cycle history, so it goes through a service,
        # not through this form; a new pilot's first state is set here.
        return ("state",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            pilot_record_initial_state(pilot=obj, context=ChangeContext(user=request.user, via=AuditEntry.Via.ADMIN))


@admin.register(PilotStateChange)
class PilotStateChangeAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """History across pilots, read-only: a state change is written together with the pilot's new state."""

    list_display = ("pilot", "state", "effective_on", "recorded_at")
    list_filter = ("state",)
    search_fields = ("pilot__name_zh", "pilot__code")
    list_select_related = ("pilot",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Organisation)
class OrganisationAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name_zh", "kind", "prefecture", "department", "contact_email")
    list_filter = ("kind",)
    search_fields = ("code", "name_zh", "name_en")
    list_select_related = ("prefecture", "department")


@admin.register(Membership)
class MembershipAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("user", "organisation", "role", "language")
    list_filter = ("role", "organisation__kind", "language")
    search_fields = ("user__username", "organisation__code", "organisation__name_zh")
    list_select_related = ("user", "organisation")
    raw_id_fields = ("user",)


@admin.register(CompletionSettings)
class CompletionSettingsAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """The completion rules' thresholds, one row per programme (created with the defaults on the first run)."""

    list_display = ("programme", "ahead_above", "behind_below", "critical_below", "stalled_periods",
                    "ahead_of_plan_margin", "updated_at")
    readonly_fields = ("updated_at",)
import pilots.admin_reminders  # noqa: E402,F401  (reminder rules, reminders, notifications)
import pilots.admin_bulletins  # noqa: E402,F401  (bulletin templates, bulletins)
