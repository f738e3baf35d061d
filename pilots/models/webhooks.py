"""Webhooks: an integrator's subscriptions and the log of every delivery attempt."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class WebhookEvent(models.TextChoices):
    REPORT_SUBMITTED = "report.submitted", _("report submitted")
    REPORT_APPROVED = "report.approved", _("report approved")
    REPORT_RETURNED = "report.returned", _("report returned")
    REMINDER_SENT = "reminder.sent", _("reminder digest sent")
    COMPLETION_CHANGED = "completion.changed", _("a pilot's completion recomputed")
    BULLETIN_PUBLISHED = "bulletin.published", _("a quarterly bulletin published")


class WebhookSubscriptionQuerySet(models.QuerySet):
    def visible_to(self, actor):
        """An integrator manages its own subscriptions only."""
        if actor.user is None:
            return self.none()
        return self.filter(owner=actor.user)


# After this many failures in a row, a subscription is disabled and its owner told in-app.
MAX_CONSECUTIVE_FAILURES = 10


class WebhookSubscription(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_subscriptions")
    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(_("events"), default=list)
    # HMAC needs the secret itself: it is shown once, at creation, and never by the API again.
    secret = models.CharField(_("signing secret"), max_length=64, editable=False)
    active = models.BooleanField(_("active"), default=True)
    consecutive_failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    audit_exclude = ("secret",)
    objects = WebhookSubscriptionQuerySet.as_manager()

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["owner", "id"]

    def __str__(self) -> str:
        return f"{self.owner} → {self.url}"


class WebhookDelivery(models.Model):
    """One event to one subscription; retried until delivered, given up, or the subscription is disabled."""

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(_("event"), max_length=30, choices=WebhookEvent.choices)
    event_id = models.CharField(_("event id"), max_length=40)
    body = models.TextField(_("body"), help_text=_("The exact JSON sent (and signed)."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_status = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    failed_at = models.DateTimeField(_("given up at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            # A redelivered fan-out task records each event once per subscription.
            models.UniqueConstraint(fields=["subscription", "event_id"], name="webhook_delivery_once"),
        ]
        # The retention purge deletes deliveries oldest first.
        indexes = [models.Index(fields=["created_at"], name="webhook_delivery_created_idx")]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription.url}"
