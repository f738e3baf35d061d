from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OutboxMessage(models.Model):
    """A Celery task to send, written in the same transaction as the change that calls for it.

    ``smartcity.outbox`` sends it when that transaction commits; if the broker is unreachable then,
    the relay (``smartcity.relay_outbox``, every 30 s) sends it later. Delivery is at least once:
    every task sent this way must be idempotent.
    """

    task = models.CharField(_("task"), max_length=200, help_text=_("The Celery task's name."))
    kwargs = models.JSONField(_("keyword arguments"), default=dict)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    dispatched_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    # The request that called for the work: sent as a message header, so the task's log lines name it.
    request_id = models.CharField(_("request ID"), max_length=128, blank=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["created_at", "id"]
        indexes = [
            # outbox_relay reads the pending messages, oldest first; sent ones drop out of the index.
            models.Index(fields=["created_at", "id"], condition=Q(dispatched_at__isnull=True),
                         name="outbox_pending_idx"),
            # The retention purge deletes sent messages oldest first; pending ones stay out of this one.
            models.Index(fields=["dispatched_at"], condition=Q(dispatched_at__isnull=False),
                         name="outbox_sent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.task} {self.kwargs} ({'sent' if self.dispatched_at else 'pending'})"
