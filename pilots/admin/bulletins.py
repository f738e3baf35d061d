"""Admin for bulletin templates (the office uploads its edited Word template here) and bulletins (read-only)."""

from __future__ import annotations

from django.contrib import admin

from pilots.models import Bulletin, BulletinTemplate
from smartcity.admin_audit import AuditedAdminMixin


@admin.register(BulletinTemplate)
class BulletinTemplateAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """The newest active template is used for the next bulletins; the shipped default when none is active."""

    list_display = ("name", "active", "uploaded_at", "uploaded_by")
    list_editable = ("active",)
    readonly_fields = ("uploaded_by", "uploaded_at")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.uploaded_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Bulletin)
class BulletinAdmin(admin.ModelAdmin):
    list_display = ("programme", "period", "revision", "status", "progress", "as_of", "published_at", "trigger")
    list_filter = ("status", "trigger", "period")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
