from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


# Run by the retention purge in its delete transaction: the sign-in record's trigger lets a DELETE through
# only with this setting on (migration signins), for this transaction only.
SIGNIN_PURGE_SQL = "SET LOCAL smartcity.signin_purge = 'on'"


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

        import smartcity.auth.lockout  # noqa: F401  (its signal receivers count failed sign-ins)
        import smartcity.auth.signins  # noqa: F401  (its signal receivers write the sign-in record)
        from smartcity.retention import RetentionPolicy, retention_register

        # Past the replay window a key is forgotten (smartcity.api.idempotency replays within it only).
        retention_register(RetentionPolicy(model="smartcity.IdempotencyRecord", age_field="created_at",
                                           setting="IDEMPOTENCY_RETENTION_DAYS"))
        # Counted from sending; a pending message (dispatched_at NULL) never matches, so it is never deleted.
        retention_register(RetentionPolicy(model="smartcity.OutboxMessage", age_field="dispatched_at",
                                           setting="OUTBOX_RETENTION_DAYS"))
        # The sign-in record is append-only; only this purge may delete from it (its trigger lets it).
        retention_register(RetentionPolicy(model="smartcity.SignInEvent", age_field="at",
                                           setting="SIGNIN_RETENTION_DAYS", unlock_sql=SIGNIN_PURGE_SQL))
        retention_register(RetentionPolicy(model="smartcity.LoginLockout", age_field="locked_at",
                                           setting="SIGNIN_RETENTION_DAYS"))
