"""Rows as the report workflow and the registry leave them, for the completion tests (the engine reads
them directly: these write reports, state changes and plans without going through the services)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pilots.models import Milestone, Pilot, PilotStateChange, PlanItem, ProgressReport, ReportTransition

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
State = ProgressReport.State


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=SHANGHAI)


def quarter_start(period: str) -> dt.date:
    return dt.date(int(period[:4]), 3 * int(period[5]) - 2, 1)


def report(pilot, subtask, period, percent, *, state=State.APPROVED, revision=1, submitted=None, reviewed=None,
           is_demo=False, is_current=True, transitions=True):
    """A report row as the workflow leaves it (submitted/approved times and its submit transition)."""
    start = quarter_start(period)
    submitted = submitted or at(start + dt.timedelta(days=95))
    if reviewed is None and state in (State.APPROVED, State.RETURNED):
        reviewed = submitted + dt.timedelta(days=2)
    row = ProgressReport.objects.create(
        pilot=pilot, subtask=subtask, period=period, period_start=start, revision=revision, is_current=is_current,
        state=state, percent_complete=Decimal(percent), status="completed" if Decimal(percent) == 100 else "on_track",
        submitted_at=submitted if state != State.DRAFT else None, reviewed_at=reviewed, is_demo=is_demo,
    )
    if transitions and state != State.DRAFT:
        ReportTransition.objects.create(report=row, action="submit", from_state="draft", to_state="submitted",
                                        at=submitted)
    return row


def designate(pilot, state=Pilot.State.DESIGNATED, on=dt.date(2021, 1, 22)):
    PilotStateChange.objects.create(pilot=pilot, state=state, effective_on=on)


def plan(pilot, subtask, *milestones):
    item = PlanItem.objects.create(pilot=pilot, subtask=subtask, description="计划")
    for day, percent in milestones:
        Milestone.objects.create(plan_item=item, title=f"{percent}%", due_on=day, target_percent=Decimal(percent))
    return item
