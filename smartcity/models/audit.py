from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from smartcity.auth.roles import PROVINCE_ROLES


class AuditQuerySet(models.QuerySet):
    def visible_to(self, actor):
        """Only the province (reviewers and administrators) reads the audit trail; for everyone else it is empty."""
        return self if actor.has_role(*PROVINCE_ROLES) else self.none()


class AuditEntry(models.Model):
    """One change to audited data: who, when, through what, and the object before and after.

    Rows are only ever inserted (``smartcity.audit.audit_record``); no interface edits or deletes them,
    and on PostgreSQL a trigger refuses UPDATE and DELETE on the table (migration 0005).
    """

    class Via(models.TextChoices):
        ADMIN = "admin", _("admin site")
        API_TOKEN = "token", _("API token")
        SESSION = "session", _("browser session")
        COMMAND = "command", _("management command")
        SYSTEM = "system", _("background job")

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_username = models.CharField(_("actor"), max_length=150, blank=True)
    via = models.CharField(_("via"), max_length=10, choices=Via.choices)
    token_prefix = models.CharField(_("token"), max_length=12, blank=True)
    request_id = models.CharField(_("request ID"), max_length=128, blank=True, db_index=True)
    action = models.CharField(_("action"), max_length=40)
    object_type = models.CharField(_("object type"), max_length=100)
    object_id = models.CharField(_("object ID"), max_length=64)
    object_repr = models.CharField(_("object"), max_length=200)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id", "-at"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_username} {self.action} {self.object_repr}"
