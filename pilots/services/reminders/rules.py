"""The reminder rules: the default rule of each kind, created once (``reminder_rules_ensure``)."""


from __future__ import annotations

from django.db import transaction

from pilots.models import (
    ReminderKind,
    ReminderRule,
)
from smartcity.audit import ChangeContext, audit_record, snapshot

DEFAULT_RULES: dict[str, dict[str, int]] = {
    ReminderKind.REPORT_MISSING: {"due_soon_days": 3, "repeat_every_working_days": 5, "escalate_after_days": 10},
    ReminderKind.MILESTONE_BEHIND: {"due_soon_days": 0, "repeat_every_working_days": 10, "escalate_after_days": 20},
    ReminderKind.RETURNED_STALE: {"grace_days": 10, "due_soon_days": 2, "repeat_every_working_days": 5,
                                  "escalate_after_days": 10},
    ReminderKind.REVIEW_STALE: {"grace_days": 5, "due_soon_days": 0, "repeat_every_working_days": 3,
                                "escalate_after_days": 10},
}


def reminder_rules_ensure(*, context: ChangeContext | None = None) -> dict[str, int]:
    """Create the default rule of each kind that has none; never touch an edited rule (bootstrap)."""
    context = context or ChangeContext.command()
    created = 0
    with transaction.atomic():
        for kind, values in DEFAULT_RULES.items():
            if ReminderRule.objects.filter(kind=kind).exists():
                continue
            rule = ReminderRule(kind=kind, **values)
            rule.full_clean()
            rule.save()
            audit_record(context=context, action="create", instance=rule, before=None, after=snapshot(rule))
            created += 1
    return {"reminder_rules": created}
