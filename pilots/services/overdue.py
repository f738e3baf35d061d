"""The stored overdue list: what the reminder detection found, written where pages and the API read it.

Nothing is detected on read. ``overdue_store`` replaces the list, or one pilot's part of it, with
what the detection (``pilots.services.reminders``: the one rule) found; the sweep stores the whole
list, and a change to a pilot's reports or plan has that pilot's items recomputed after it commits
(``pilots.refresh_overdue``, through the outbox). Writes are serialized on the one
``OverdueListComputation`` row, so two refreshes at once never leave an item listed twice.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from pilots import task_names
from pilots.models import LEVEL_URGENCY, CurrentOverdueItem, OverdueListComputation
from smartcity.outbox import outbox_enqueue

if TYPE_CHECKING:
    from pilots.services.reminders import OverdueEntry

# Rows per INSERT: bounded, however long the list.
STORE_BATCH = 2_000


def overdue_store(entries: list[OverdueEntry], *, computed_at: dt.datetime, pilot_id: int | None = None) -> int:
    """Replace the stored list (or ``pilot_id``'s items) with ``entries``; returns how many were stored."""
    rows = [
        CurrentOverdueItem(
            item_key=entry.item.key, kind=entry.item.kind, level=entry.level, urgency=LEVEL_URGENCY[entry.level],
            occurrence=entry.occurrence, pilot_id=entry.item.pilot.pk, subtask_id=entry.item.subtask.pk,
            period=entry.item.period, report_id=entry.item.report_id, milestone_id=entry.item.milestone_id,
            due_on=entry.item.due_on, computed_at=computed_at)
        for entry in entries if pilot_id is None or entry.item.pilot.pk == pilot_id
    ]
    with transaction.atomic():
        OverdueListComputation.objects.get_or_create(pk=1)  # the lock's row, before the first list exists
        OverdueListComputation.objects.select_for_update().get(pk=1)
        scope = CurrentOverdueItem.objects.all() if pilot_id is None else CurrentOverdueItem.objects.filter(
            pilot_id=pilot_id)
        scope.delete()
        CurrentOverdueItem.objects.bulk_create(rows, batch_size=STORE_BATCH)
        if pilot_id is None:
            OverdueListComputation.objects.filter(pk=1).update(computed_at=computed_at)
    return len(rows)


def overdue_computed_on() -> dt.date | None:
    """The local date the whole list was last computed (None: never)."""
    computed_at = OverdueListComputation.objects.filter(pk=1).values_list("computed_at", flat=True).first()
    return timezone.localdate(computed_at) if computed_at is not None else None


def overdue_changed(*, pilot_id: int) -> None:
    """Within a change's transaction: have the pilot's overdue items recomputed once it commits."""
    outbox_enqueue(task=task_names.REFRESH_OVERDUE, kwargs={"pilot_id": pilot_id})


def overdue_all_changed() -> None:
    """Within a transaction that changes what every item's due date or level depends on (the reminder rules,
    the working-day calendar): have the whole list recomputed once it commits."""
    outbox_enqueue(task=task_names.REFRESH_OVERDUE, kwargs={})


__all__ = ["STORE_BATCH", "overdue_changed", "overdue_computed_on", "overdue_all_changed", "overdue_store"]
