"""How many items are overdue (or due soon) today, by level: what ``/metrics`` reports.

One function, so that the body can change with how overdue items are found: today it runs the
reminder detectors (``pilots.services.reminders.overdue_now``, what ``GET /overdue/`` lists), a few
queries per reminder rule whatever the number of items; when overdue items are stored in a table of
their own, it becomes one ``GROUP BY level`` over that table, with the same result.
"""

from __future__ import annotations

from collections import Counter

from django.utils import timezone

from pilots.models.reminders import ReminderLevel


def overdue_counts_by_level() -> dict[str, int]:
    """Items at each reminder level today (every level present, 0 when none), counted once per item."""
    from pilots.services.reminders import overdue_now

    counts = Counter(entry.level for entry in overdue_now(today=timezone.localdate()))
    return {level: counts.get(level, 0) for level in ReminderLevel.values}
