"""Admin for webhook subscriptions (the secret is never shown) and deliveries (read-only: delivery state
and errors)."""

from __future__ import annotations

from django.contrib import admin

from pilots.models import WebhookDelivery, WebhookSubscription
from smartcity.admin_audit import AuditedAdminMixin


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("owner", "url", "events", "active", "consecutive_failures", "disabled_at")
    list_filter = ("active",)
    search_fields = ("url", "owner__username")
    fields = ("owner", "url", "events", "active", "consecutive_failures", "disabled_at")
    readonly_fields = ("owner", "consecutive_failures", "disabled_at")

    def has_add_permission(self, request):
        return False  # created through the API, which shows the secret once


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("event", "subscription", "created_at", "attempts", "last_status", "last_error", "delivered_at",
                    "failed_at")
    list_filter = ("event", ("delivered_at", admin.EmptyFieldListFilter), ("failed_at", admin.EmptyFieldListFilter))
    search_fields = ("event_id", "subscription__url")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
