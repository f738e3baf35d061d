"""Reads of the stored overdue list (``pilots.services.overdue`` writes it): filtered, scoped and ordered
in the database, at a cost that does not grow with the list."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, QuerySet

from pilots.models import CurrentOverdueItem, OverdueListComputation, ReminderLevel


def overdue_items(*, actor, prefecture: str | None = None, pilot_id: int | None = None, kind: str | None = None,
                  level: str | None = None) -> QuerySet[CurrentOverdueItem]:
    """The stored items the actor may see, most urgent first (level, then the oldest due date).

    A prefecture office sees its own pilots; a department, the items of the sub-tasks assigned to it.
    """
    items = CurrentOverdueItem.objects.visible_to(actor)
    if prefecture is not None:
        items = items.filter(pilot__prefecture__code=prefecture)
    if pilot_id is not None:
        items = items.filter(pilot_id=pilot_id)
    if kind is not None:
        items = items.filter(kind=kind)
    if level is not None:
        items = items.filter(level=level)
    # pilot, subtask: the entries' nested objects (with the prefecture and task they name by code)
    return items.select_related("pilot__prefecture", "subtask__task")


def overdue_computed_at() -> dt.datetime | None:
    """When the whole list was last computed (None: never); a pilot changed since has fresher items."""
    return OverdueListComputation.objects.filter(pk=1).values_list("computed_at", flat=True).first()


def overdue_counts_by_level() -> dict[str, int]:
    """How many items are stored at each level, province-wide (every level present, 0 when none)."""
    counts = dict.fromkeys(ReminderLevel.values, 0)
    counts.update(CurrentOverdueItem.objects.order_by().values("level").annotate(n=Count("pk"))
                  .values_list("level", "n"))
    return counts


__all__ = ["overdue_computed_at", "overdue_counts_by_level", "overdue_items"]
