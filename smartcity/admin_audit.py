"""Admin integration: every add, change and delete in the admin site writes an audit entry."""

from __future__ import annotations

from django.contrib import admin

from smartcity.audit import ChangeContext, audit_record, snapshot
from smartcity.models import AuditEntry


def _context(request) -> ChangeContext:
    return ChangeContext(user=request.user, via=AuditEntry.Via.ADMIN)


class AuditedAdminMixin:
    """Mix into a ModelAdmin (and its inlines are covered through ``save_formset``)."""

    def save_model(self, request, obj, form, change):
        before = snapshot(type(obj)._default_manager.get(pk=obj.pk)) if change and obj.pk else None
        super().save_model(request, obj, form, change)
        audit_record(
            context=_context(request), action="update" if change else "create", instance=obj,
            before=before, after=snapshot(obj),
        )

    def delete_model(self, request, obj):
        before = snapshot(obj)
        audit_record(context=_context(request), action="delete", instance=obj, before=before, after=None)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            audit_record(context=_context(request), action="delete", instance=obj, before=snapshot(obj), after=None)
        super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change):
        model = formset.model
        befores = {
            f.instance.pk: snapshot(model._default_manager.get(pk=f.instance.pk))
            for f in formset.forms
            if f.instance.pk and f.has_changed()
        }
        deleted = [(f.instance, snapshot(f.instance)) for f in formset.deleted_forms if f.instance.pk]
        instances = formset.save()
        context = _context(request)
        for obj, before in deleted:
            audit_record(context=context, action="delete", instance=obj, before=before, after=None)
        for obj in instances:
            before = befores.get(obj.pk)
            audit_record(
                context=context, action="update" if before else "create", instance=obj,
                before=before, after=snapshot(obj),
            )


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is evidence, so nobody edits or deletes it here."""

    list_display = ("at", "actor_username", "via", "action", "object_type", "object_repr", "request_id")
    list_filter = ("via", "action", "object_type")
    search_fields = ("object_repr", "actor_username", "request_id", "object_id")
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
