"""Retention: the tables that only grow are trimmed of rows past their period, in bounded batches.

A *policy* names a model (by its ``app_label.ModelName``, so the platform never imports the domain),
the date field that ages a row, an optional filter of what may go at all, and the setting that holds
the period in days. The platform registers its own tables in ``SmartcityConfig.ready()``; ``pilots``
registers its tables in ``PilotsConfig.ready()``. ``retention_purge`` (Celery task
``RETENTION_TASK``, nightly) applies every registered policy.

Each batch is one short transaction: select at most ``RETENTION_BATCH_SIZE`` expired primary keys,
oldest first, and delete them. On PostgreSQL the batch is locked with SKIP LOCKED, so two purges at
once split the rows between them instead of waiting on or deleting each other's; a row is deleted
once whoever deletes it. Running the purge again deletes only what has expired since.

The audit log is never registered: it is append-only (PostgreSQL refuses UPDATE and DELETE on it). The
sign-in record is append-only too, but kept for ``SIGNIN_RETENTION_DAYS``: its policy's ``unlock_sql`` lets
the purge's own transaction through its trigger.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

logger = logging.getLogger(__name__)

RETENTION_TASK = "smartcity.purge_expired"


@dataclass(frozen=True)
class RetentionPolicy:
    model: str  # "app_label.ModelName"
    age_field: str  # a row older than the period by this field may go (a NULL never matches)
    setting: str  # the setting holding the period in days
    keep: Q | None = None  # rows matching this are kept whatever their age
    description: str = ""
    unlock_sql: str = ""  # run on PostgreSQL in each delete transaction, e.g. to pass an append-only trigger

    def period(self) -> dt.timedelta:
        return dt.timedelta(days=getattr(settings, self.setting))

    def expired(self, *, now: dt.datetime):
        """The queryset of the rows this policy would delete at ``now``."""
        model = apps.get_model(self.model)
        rows = model._default_manager.filter(**{f"{self.age_field}__lt": now - self.period()})
        return rows.exclude(self.keep) if self.keep is not None else rows


_POLICIES: dict[str, RetentionPolicy] = {}


def retention_register(policy: RetentionPolicy) -> None:
    """Register (or re-register, e.g. when ``ready()`` runs twice) the policy for ``policy.model``."""
    _POLICIES[policy.model] = policy


def retention_policies() -> list[RetentionPolicy]:
    return list(_POLICIES.values())


def retention_purge(*, now: dt.datetime | None = None, batch_size: int | None = None) -> dict[str, int]:
    """Delete every registered table's expired rows in batches; returns rows deleted per model label."""
    now = now or timezone.now()
    batch_size = batch_size or settings.RETENTION_BATCH_SIZE
    deleted = {}
    for policy in retention_policies():
        deleted[policy.model] = _purge(policy, now=now, batch_size=batch_size)
        if deleted[policy.model]:
            logger.info("retention: deleted %s %s rows older than %s days", deleted[policy.model], policy.model,
                        policy.period().days)
    return deleted


def _purge(policy: RetentionPolicy, *, now: dt.datetime, batch_size: int) -> int:
    model = apps.get_model(policy.model)
    total = 0
    while True:
        with transaction.atomic():
            batch = list(
                policy.expired(now=now).select_for_update(skip_locked=True)
                .order_by(policy.age_field, "pk").values_list("pk", flat=True)[:batch_size]
            )
            if not batch:
                return total
            # The batch is locked by us (PostgreSQL) or the database is (SQLite): nobody changes it meanwhile.
            if policy.unlock_sql and connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(policy.unlock_sql)
            count, _by_model = model._default_manager.filter(pk__in=batch).delete()
        total += count
        if len(batch) < batch_size:
            return total
