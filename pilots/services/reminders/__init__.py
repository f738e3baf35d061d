"""Reminders: detect what is overdue, record one ``Reminder`` row per message, then deliver digests.

Detect, record, deliver — each step retryable and safe to run in parallel (the Healthchecks shape):

1. **Detect** (``overdue_items``): one query-based function per kind returns the items due soon or
   overdue today; ``item_levels`` says which reminder levels an item has reached, each with the
   date that level's occurrence belongs to.
2. **Record**: one ``Reminder`` per item × level × occurrence × recipient, INSERTed with ON CONFLICT
   DO NOTHING on the ``reminder_once`` unique constraint: a reminder recorded once is never recorded
   (nor sent) again, whoever runs the sweep and however often.
3. **Deliver** (``reminders_deliver_pending``): unsent rows are claimed with a conditional update
   (``claimed_by IS NULL``), grouped into one digest per recipient and channel, delivered, and marked
   sent. A run that dies leaves its claimed rows unsent; after ``CLAIM_TIMEOUT`` the next run
   reclaims and sends exactly those.

The reminders' service side, one module per step: ``rules`` (the default rules), ``detection`` (1),
``sweep`` (2 and 3), ``channels`` (one class per delivery channel, one template per message). The model
is ``pilots.models.reminders``, the API ``pilots.api.reminders``, the admin ``pilots.admin.reminders``,
the Celery tasks ``pilots.tasks`` (``send_reminders``, ``refresh_overdue``), the schedule
``smartcity.schedules``. The names below stay importable from ``pilots.services.reminders``.
"""

from pilots.periods import Period  # noqa: F401  (exported before the split)
from pilots.services.reminders.detection import (  # noqa: F401
    DETECTORS,
    OverdueEntry,
    OverdueItem,
    item_levels,
    overdue_milestones,
    overdue_now,
    overdue_refresh,
    overdue_reports_missing,
    overdue_returned_reports,
    overdue_reviews,
)
from pilots.services.reminders.rules import DEFAULT_RULES, reminder_rules_ensure  # noqa: F401
from pilots.services.reminders.sweep import (  # noqa: F401
    CLAIM_TIMEOUT,
    RECORD_BATCH,
    reminders_deliver_pending,
    reminders_record,
    reminders_sweep,
)
