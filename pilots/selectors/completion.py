"""Reads of the stored completion figures, for the API and the dashboard.

These functions only read what ``pilots.services.completion`` stored; none of them aggregates
reports. Every function takes the actor and applies its scope (``visible_to``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Max, QuerySet

from pilots.models import CompletionRollup, Pilot, ReportingRate, SubtaskCompletion
from tasks_app.models import Programme

Scope = CompletionRollup.Scope


def completion_rollups(*, actor, programme: Programme | None = None, scope: str | None = None) -> QuerySet:
    """The rollup rows the actor may see, with the objects they are about."""
    rows = CompletionRollup.objects.visible_to(actor).select_related(
        "programme", "pilot__prefecture", "prefecture", "task", "department"  # the nested pilot, prefecture, …
    )
    if programme is not None:
        rows = rows.filter(programme=programme)
    if scope is not None:
        rows = rows.filter(scope=scope)
    return rows


def reporting_rates(*, actor, programme: Programme | None = None) -> QuerySet:
    rows = ReportingRate.objects.visible_to(actor).select_related("programme", "prefecture")  # prefecture{}
    return rows if programme is None else rows.filter(programme=programme)


def latest_as_of(rows: QuerySet) -> dt.date | None:
    """The newest date for which ``rows`` hold figures."""
    return rows.aggregate(latest=Max("as_of"))["latest"]


def on_date(rows: QuerySet, *, as_of: dt.date | None, real_only: bool) -> QuerySet:
    """``rows`` of one variant on ``as_of``, or on the newest date computed for them when it is None."""
    rows = rows.filter(real_only=real_only)
    if as_of is None:
        as_of = latest_as_of(rows)
        if as_of is None:
            return rows.none()
    return rows.filter(as_of=as_of)


def province_completion(*, actor, programme: Programme, as_of: dt.date | None, real_only: bool
                        ) -> CompletionRollup | None:
    """The province-wide figures, which every member may read."""
    rows = completion_rollups(actor=actor, programme=programme, scope=Scope.PROVINCE)
    return on_date(rows, as_of=as_of, real_only=real_only).first()


@dataclass
class TaskBreakdown:
    rollup: CompletionRollup
    subtasks: list[SubtaskCompletion] = field(default_factory=list)


@dataclass
class PilotCompletion:
    pilot: Pilot
    rollup: CompletionRollup
    tasks: list[TaskBreakdown]
    goal_deadline: dt.date


def pilot_completion(*, actor, pilot: Pilot, as_of: dt.date | None, real_only: bool) -> PilotCompletion | None:
    """One pilot's figures by task and sub-task (a department sees the sub-tasks it takes part in).

    ``pilot`` must come from ``Pilot.objects.visible_to(actor)``.
    """
    pilot_rows = CompletionRollup.objects.filter(pilot=pilot, scope=Scope.PILOT)
    rollup = on_date(pilot_rows, as_of=as_of, real_only=real_only).first()
    if rollup is None:
        return None
    same_run = {"as_of": rollup.as_of, "real_only": real_only}
    task_rows = (
        CompletionRollup.objects.filter(pilot=pilot, scope=Scope.PILOT_TASK, **same_run)
        .select_related("task")  # task{}
        .order_by("task__order", "task__code")
    )
    tasks = {row.task_id: TaskBreakdown(row) for row in task_rows}
    subtask_rows = (
        SubtaskCompletion.objects.visible_to(actor).filter(pilot=pilot, **same_run)
        .select_related("subtask__task")  # subtask{}
        .order_by("subtask__order", "subtask__code")
    )
    for row in subtask_rows:
        if row.subtask.task_id in tasks:
            tasks[row.subtask.task_id].subtasks.append(row)
    return PilotCompletion(pilot=pilot, rollup=rollup, tasks=list(tasks.values()),
                           goal_deadline=pilot.programme.goal_deadline)
