from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SmartcityConfig(AppConfig):
    name = "smartcity"
    verbose_name = _("Platform: tokens and audit")

    def ready(self):
        from celery.signals import task_prerun
        from django.core.signals import request_started

        from smartcity.workdays import calendar_expire

        # Each request and task checks once whether another process changed the working-day calendar.
        request_started.connect(calendar_expire, dispatch_uid="smartcity.calendar_expire")
        task_prerun.connect(calendar_expire, dispatch_uid="smartcity.calendar_expire", weak=False)

        from smartcity.retention import RetentionPolicy, retention_register

        # Past the replay window a key is forgotten (smartcity.api.idempotency replays within it only).
        retention_register(RetentionPolicy(model="smartcity.IdempotencyRecord", age_field="created_at",
                                           setting="IDEMPOTENCY_RETENTION_DAYS"))
        # Counted from sending; a pending message (dispatched_at NULL) never matches, so it is never deleted.
        retention_register(RetentionPolicy(model="smartcity.OutboxMessage", age_field="dispatched_at",
                                           setting="OUTBOX_RETENTION_DAYS"))
