"""1. Detect: what is due soon or overdue today, kind by kind, and which reminder levels it has reached."""


from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from django.db.models import Count, DecimalField, Exists, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from pilots.links import item_links
from pilots.models import (
    Milestone,
    Pilot,
    ProgressReport,
    ReminderKind,
    ReminderLevel,
    ReminderRule,
)
from pilots.periods import periods_between
from pilots.services.overdue import overdue_store
from smartcity.workdays import add_working_days, working_days_between
from tasks_app.models import Programme, SubTask


@dataclass
class OverdueItem:
    kind: str
    key: str
    pilot: Pilot
    subtask: SubTask
    due_on: dt.date
    period: str = ""
    report_id: int | None = None
    milestone_id: int | None = None

    @cached_property
    def _links(self) -> tuple[str, str]:
        return item_links(kind=self.kind, pilot_id=self.pilot.pk, subtask_code=self.subtask.code, period=self.period,
                          report_id=self.report_id, milestone_id=self.milestone_id)

    @property
    def link(self) -> str:
        """The page a person is sent to."""
        return self._links[0]

    @property
    def api_url(self) -> str:
        """The same item in the API, for an integrator."""
        return self._links[1]


def _not_revoked_pilots(pilot_id: int | None = None):
    """The pilots reminded of: every one not revoked, or only ``pilot_id`` (a change's scope)."""
    pilots = Pilot.objects.exclude(state=Pilot.State.REVOKED)
    return pilots if pilot_id is None else pilots.filter(pk=pilot_id)


# Ids per ``IN (…)`` list: below SQLite's lowest limit on query parameters (999).
_ID_BATCH = 500


def _pilots_and_subtasks(rows, pilot_at: int, subtask_at: int) -> tuple[dict[int, Pilot], dict[int, SubTask]]:
    """The pilots and sub-tasks (with their task) that ``rows`` name, one instance per id.

    The items of a kind share them: ``select_related`` would build a copy of each per overdue row,
    several model instances per item at national scale. (The detectors select ``pilot_id``, not
    ``pilot``: a selected name equal to one in the model's ordering would sort by the id instead.)
    """
    pilots = Pilot.objects.in_bulk({row[pilot_at] for row in rows})
    subtasks = SubTask.objects.select_related("task").in_bulk({row[subtask_at] for row in rows})
    return pilots, subtasks


def overdue_reports_missing(*, today: dt.date, rule: ReminderRule, pilot_id: int | None = None) -> list[OverdueItem]:
    """(a) A quarter's report per pilot × sub-task not submitted by the programme's deadline.

    Only quarters the pilot's construction window overlaps; revoked pilots are left out. A report that
    was submitted (even if since returned or approved) counts as submitted.
    """
    items: list[OverdueItem] = []
    for programme in Programme.objects.filter(pilots__isnull=False).distinct():
        pilots = _not_revoked_pilots(pilot_id).filter(programme=programme)
        candidates = list(pilots)  # once, in their order; each quarter takes those whose window overlaps it
        if not candidates:
            continue
        subtasks = list(SubTask.objects.filter(task__programme=programme).select_related("task"))
        subtask_ids = [subtask.pk for subtask in subtasks]
        due = []
        for period in periods_between(min(pilot.construction_start for pilot in candidates), today):
            due_on = period.deadline(programme.report_due_days).date
            if today >= period.end and today >= due_on - dt.timedelta(days=rule.due_soon_days):
                due.append((period, str(period), due_on))
        filed_reports = (ProgressReport.objects.filter(pilot__in=pilots, subtask_id__in=subtask_ids)
                         .exclude(state=ProgressReport.State.DRAFT))
        # Most quarters are long filed: count the filed sub-tasks per quarter and pilot (one query), and fetch
        # the filed pairs only of the pilots that filed some but not all, not every filed pair of every quarter.
        filed_count = {
            (label, pilot_id): n for label, pilot_id, n in
            filed_reports.filter(period__in=[label for _period, label, _due_on in due]).order_by()
            .values("period", "pilot_id").annotate(n=Count("subtask_id", distinct=True))
            .values_list("period", "pilot_id", "n")
        }
        for period, label, due_on in due:
            missing = [pilot for pilot in candidates
                       if pilot.construction_start <= period.end and pilot.construction_end >= period.start
                       and filed_count.get((label, pilot.pk), 0) < len(subtask_ids)]
            partly = [pilot.pk for pilot in missing if (label, pilot.pk) in filed_count]
            filed = set()
            for at in range(0, len(partly), _ID_BATCH):
                filed.update(filed_reports.filter(period=label, pilot_id__in=partly[at:at + _ID_BATCH])
                             .values_list("pilot_id", "subtask_id"))
            items += [
                OverdueItem(kind=ReminderKind.REPORT_MISSING, key=f"report:{pilot.pk}:{subtask.pk}:{label}",
                            pilot=pilot, subtask=subtask, due_on=due_on, period=label)
                for pilot in missing for subtask in subtasks if (pilot.pk, subtask.pk) not in filed
            ]
    return items


def overdue_milestones(*, today: dt.date, rule: ReminderRule, pilot_id: int | None = None) -> list[OverdueItem]:
    """(b) The latest milestone that has come due whose pilot's latest approved percent is below target."""
    latest_approved = (
        ProgressReport.objects.filter(pilot_id=OuterRef("plan_item__pilot_id"), subtask_id=OuterRef("plan_item__subtask_id"))
        .approved_latest_first().values("percent_complete")[:1]
    )
    horizon = today + dt.timedelta(days=rule.due_soon_days)
    later_due = Milestone.objects.filter(plan_item_id=OuterRef("plan_item_id"), due_on__gt=OuterRef("due_on"),
                                         due_on__lte=horizon)
    rows = list(
        Milestone.objects.filter(due_on__lte=horizon, plan_item__pilot__in=_not_revoked_pilots(pilot_id))
        .alias(approved=Coalesce(Subquery(latest_approved), Value(Decimal(0)),
                                 output_field=DecimalField(max_digits=4, decimal_places=1)))
        .filter(approved__lt=F("target_percent"))
        .exclude(Exists(later_due))  # a superseded milestone is not reminded of twice
        .values_list("pk", "due_on", "plan_item__pilot_id", "plan_item__subtask_id")
    )
    pilots, subtasks = _pilots_and_subtasks(rows, 2, 3)
    return [
        OverdueItem(kind=ReminderKind.MILESTONE_BEHIND, key=f"milestone:{pk}", pilot=pilots[pilot_id],
                    subtask=subtasks[subtask_id], due_on=due_on, milestone_id=pk)
        for pk, due_on, pilot_id, subtask_id in rows
    ]


def overdue_returned_reports(*, today: dt.date, rule: ReminderRule, pilot_id: int | None = None) -> list[OverdueItem]:
    """(c) A returned report not resubmitted within ``grace_days`` calendar days of its return."""
    earliest_due_soon = today - dt.timedelta(days=max(rule.grace_days - rule.due_soon_days, 0))
    rows = list(
        ProgressReport.objects.filter(state=ProgressReport.State.RETURNED, is_current=True,
                                      reviewed_at__date__lte=earliest_due_soon, pilot__in=_not_revoked_pilots(pilot_id))
        .values_list("pk", "pilot_id", "subtask_id", "period", "reviewed_at")
    )
    pilots, subtasks = _pilots_and_subtasks(rows, 1, 2)
    return [
        OverdueItem(kind=ReminderKind.RETURNED_STALE, key=f"returned:{pk}:{int(reviewed_at.timestamp())}",
                    pilot=pilots[pilot_id], subtask=subtasks[subtask_id], period=period, report_id=pk,
                    due_on=timezone.localdate(reviewed_at) + dt.timedelta(days=rule.grace_days))
        for pk, pilot_id, subtask_id, period, reviewed_at in rows
    ]


def overdue_reviews(*, today: dt.date, rule: ReminderRule, pilot_id: int | None = None) -> list[OverdueItem]:
    """(d) A submitted report not reviewed within ``grace_days`` working days of its submission."""
    # N working days after a date are at least N calendar days after it: a cheap pre-filter.
    earliest_due_soon = today - dt.timedelta(days=max(rule.grace_days - rule.due_soon_days, 0))
    rows = list(
        ProgressReport.objects.filter(state=ProgressReport.State.SUBMITTED, is_current=True,
                                      submitted_at__date__lte=earliest_due_soon,
                                      pilot__in=_not_revoked_pilots(pilot_id))
        .values_list("pk", "pilot_id", "subtask_id", "period", "submitted_at")
    )
    pilots, subtasks = _pilots_and_subtasks(rows, 1, 2)
    due_after: dict[dt.date, dt.date] = {}  # submission day → due date: many reports share a day
    items = []
    for pk, pilot_id, subtask_id, period, submitted_at in rows:
        submitted_on = timezone.localdate(submitted_at)
        if submitted_on not in due_after:
            due_after[submitted_on] = add_working_days(submitted_on, rule.grace_days)
        due_on = due_after[submitted_on]
        if today >= due_on - dt.timedelta(days=rule.due_soon_days):
            items.append(OverdueItem(
                kind=ReminderKind.REVIEW_STALE, key=f"review:{pk}:{int(submitted_at.timestamp())}",
                pilot=pilots[pilot_id], subtask=subtasks[subtask_id], period=period, report_id=pk, due_on=due_on))
    return items


DETECTORS = {
    ReminderKind.REPORT_MISSING: overdue_reports_missing,
    ReminderKind.MILESTONE_BEHIND: overdue_milestones,
    ReminderKind.RETURNED_STALE: overdue_returned_reports,
    ReminderKind.REVIEW_STALE: overdue_reviews,
}


def item_levels(*, due_on: dt.date, today: dt.date, rule: ReminderRule) -> list[tuple[str, dt.date]]:
    """The levels an item has reached today, each with its occurrence date.

    - due soon: within ``due_soon_days`` before the due date (occurrence: the due date);
    - overdue: from the day after the due date (occurrence: that day);
    - repeat: every ``repeat_every_working_days`` working days after the overdue day (occurrence: the
      working day the repeat falls on), replacing the overdue level;
    - escalation: from ``escalate_after_days`` days after the due date (occurrence: that day), in addition.
    """
    if today <= due_on:
        if rule.due_soon_days and (due_on - today).days <= rule.due_soon_days:
            return [(ReminderLevel.DUE_SOON, due_on)]
        return []
    levels = []
    every = rule.repeat_every_working_days
    late = working_days_between(due_on, today)  # the first working day after the due date is 1
    if every and late > every:
        levels.append((ReminderLevel.REPEAT, add_working_days(due_on, 1 + (late - 1) // every * every)))
    else:
        levels.append((ReminderLevel.OVERDUE, due_on + dt.timedelta(days=1)))
    if rule.escalate_after_days and (today - due_on).days >= rule.escalate_after_days:
        levels.append((ReminderLevel.ESCALATION, due_on + dt.timedelta(days=rule.escalate_after_days)))
    return levels


def _levels_by_due_date(*, today: dt.date, rule: ReminderRule):
    """``item_levels`` for one rule and day, once per due date: the items of a quarter share theirs."""
    levels: dict[dt.date, list[tuple[str, dt.date]]] = {}

    def levels_on(due_on: dt.date) -> list[tuple[str, dt.date]]:
        if due_on not in levels:
            levels[due_on] = item_levels(due_on=due_on, today=today, rule=rule)
        return levels[due_on]

    return levels_on


@dataclass
class OverdueEntry:
    item: OverdueItem
    level: str
    occurrence: dt.date


@dataclass
class _Detected:
    rule: ReminderRule
    item: OverdueItem
    levels: list[tuple[str, dt.date]]  # every level reached today, the highest last


def _detect(*, today: dt.date, rules: list[ReminderRule], pilot_id: int | None = None) -> list[_Detected]:
    """The one rule for what is due: every item of ``rules`` that has reached a level today."""
    detected = []
    for rule in rules:
        levels_on = _levels_by_due_date(today=today, rule=rule)
        for item in DETECTORS[rule.kind](today=today, rule=rule, pilot_id=pilot_id):
            levels = levels_on(item.due_on)
            if levels:
                detected.append(_Detected(rule, item, levels))
    return detected


def _entries(detected: list[_Detected]) -> list[OverdueEntry]:
    return [OverdueEntry(item=d.item, level=d.levels[-1][0], occurrence=d.levels[-1][1]) for d in detected]


def overdue_now(*, today: dt.date, rules: list[ReminderRule] | None = None,
                pilot_id: int | None = None) -> list[OverdueEntry]:
    """Every item due soon or overdue today with its highest current level (what ``/overdue/`` stores)."""
    rules = rules if rules is not None else list(ReminderRule.objects.filter(enabled=True))
    return _entries(_detect(today=today, rules=rules, pilot_id=pilot_id))


def overdue_refresh(*, now: dt.datetime | None = None, pilot_id: int | None = None) -> int:
    """Detect what is overdue now and store it: every item, or only ``pilot_id``'s (after a change to it).

    What a report submitted, reviewed or a milestone met leaves overdue is exactly what the sweep would
    find: the same detection, limited to the pilot. Returns the items stored.
    """
    now = now or timezone.now()
    entries = overdue_now(today=timezone.localdate(now), pilot_id=pilot_id)
    return overdue_store(entries, computed_at=now, pilot_id=pilot_id)
