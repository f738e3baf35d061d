"""Admin for reminder rules (editable, audited), reminders (read-only: delivery state and errors) and
notifications."""

from __future__ import annotations

from django.contrib import admin

from pilots.models import Notification, Reminder, ReminderRule
from pilots.services.overdue import overdue_all_changed
from smartcity.admin_audit import AuditedAdminMixin


@admin.register(ReminderRule)
class ReminderRuleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("kind", "enabled", "grace_days", "due_soon_days", "repeat_every_working_days",
                    "escalate_after_days", "send_hour")
    list_editable = ("enabled",)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        overdue_all_changed()  # the stored overdue list follows the rules


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    """What was sent to whom; a failed delivery shows its attempts and last error here."""

    list_display = ("item_key", "kind", "level", "occurrence", "recipient", "sent_at", "attempts", "last_error",
                    "failed_at")
    list_filter = ("kind", "level", "channel", ("sent_at", admin.EmptyFieldListFilter),
                   ("failed_at", admin.EmptyFieldListFilter))
    search_fields = ("item_key", "recipient")
    date_hierarchy = "occurrence"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("user", "title", "created_at", "read_at")
    list_filter = (("read_at", admin.EmptyFieldListFilter),)
    search_fields = ("user__username", "title")

    def has_add_permission(self, request):
        return False
