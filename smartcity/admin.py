"""Admin for API tokens and the working-day calendar (the audit trail's read-only admin is in ``smartcity.admin_audit``)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from smartcity.admin_audit import AuditedAdminMixin
from smartcity.audit import ChangeContext
from smartcity.auth.services import token_revoke
from smartcity.models import ApiToken, AuditEntry, CalendarDay, CalendarYear, OutboxMessage
from smartcity.working_calendar import calendar_touched


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Tokens are issued through the API (the key is shown once, there); here they are named or revoked."""

    list_display = ("prefix", "user", "name", "can_write", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("can_write", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("prefix", "name", "user__username")
    list_select_related = ("user",)
    # key_hash is never listed: not even the hash of a key is shown.
    fields = ("user", "name", "prefix", "can_write", "created_at", "expires_at", "last_used_at", "revoked_at")
    readonly_fields = ("user", "prefix", "can_write", "created_at", "expires_at", "last_used_at")
    actions = ["revoke_selected"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Revoke instead: a deleted token would leave audit entries that point at nothing.
        return False

    @admin.action(description=_("Revoke selected tokens"), permissions=["change"])
    def revoke_selected(self, request, queryset):
        context = ChangeContext(user=request.user, via=AuditEntry.Via.ADMIN)
        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True):
            token_revoke(token=token, context=context)
            revoked += 1
        self.message_user(
            request,
            ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", revoked) % {"count": revoked},
            messages.SUCCESS,
        )


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Read-only: what was sent to the workers and what is still waiting for the broker (the relay sends it)."""

    list_display = ("task", "kwargs", "created_at", "dispatched_at", "attempts", "last_error")
    list_filter = (("dispatched_at", admin.EmptyFieldListFilter), "task")
    readonly_fields = ("task", "kwargs", "created_at", "dispatched_at", "attempts", "last_error")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class _CalendarAdminMixin(AuditedAdminMixin):
    """Each change in the admin moves deadlines like one through the API: revision, signal, recompute."""

    def _dates(self, obj) -> set:
        return {obj.date} if isinstance(obj, CalendarDay) else set()

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            before = set()
            if change and obj.pk:
                before = self._dates(type(obj)._default_manager.get(pk=obj.pk))
                if isinstance(obj, CalendarDay):
                    obj.version += 1  # an API client holding the old ETag is told (412), as after an API change
            super().save_model(request, obj, form, change)
            years = {obj.year} if isinstance(obj, CalendarYear) else None
            calendar_touched(before | self._dates(obj), ChangeContext(user=request.user, via=AuditEntry.Via.ADMIN),
                             years=years)

    def delete_model(self, request, obj):
        with transaction.atomic():
            super().delete_model(request, obj)
            years = {obj.year} if isinstance(obj, CalendarYear) else None
            calendar_touched(self._dates(obj), ChangeContext(user=request.user, via=AuditEntry.Via.ADMIN), years=years)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            objects = list(queryset)
            super().delete_queryset(request, queryset)
            dates = set().union(*(self._dates(obj) for obj in objects)) if objects else set()
            years = {obj.year for obj in objects if isinstance(obj, CalendarYear)} or None
            calendar_touched(dates, ChangeContext(user=request.user, via=AuditEntry.Via.ADMIN), years=years)


@admin.register(CalendarDay)
class CalendarDayAdmin(_CalendarAdminMixin, admin.ModelAdmin):
    """The statutory holidays and adjusted working days; a whole year is best imported (manage.py import_calendar)."""

    list_display = ("date", "kind", "name", "source")
    list_filter = ("kind", ("date", admin.DateFieldListFilter))
    search_fields = ("name", "source")
    date_hierarchy = "date"
    fields = ("date", "kind", "name", "source")


@admin.register(CalendarYear)
class CalendarYearAdmin(_CalendarAdminMixin, admin.ModelAdmin):
    """A year listed here is known: its deadlines are facts. Add it once its whole arrangement is entered."""

    list_display = ("year", "source", "entered_at")
    fields = ("year", "source")
