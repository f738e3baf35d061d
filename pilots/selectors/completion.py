"""Reads of the stored completion figures, for the API and the dashboard.

These functions only read what ``pilots.services.completion`` stored; none of them aggregates
reports. Every function takes the actor and applies its scope (``visible_to``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Case, IntegerField, Max, QuerySet, Subquery, Value, When

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


def subtask_completions(*, actor) -> QuerySet:
    """The pilot × sub-task rows the actor may see (every date and variant: ``on_date`` picks one)."""
    return SubtaskCompletion.objects.visible_to(actor)


def behind_schedule(rows: QuerySet) -> QuerySet:
    """Of one snapshot's sub-task rows, those behind or critically behind plan, most urgent first:
    critical, then the largest shortfall (the date is picked before, so a day with none shows none)."""
    urgency = Case(When(schedule_status="critical", then=Value(0)), default=Value(1), output_field=IntegerField())
    return rows.filter(schedule_status__in=("behind", "critical")).order_by(
        urgency, "variance", "pilot__code", "subtask__code")


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


# The columns the single reads (a pilot, the province) take with ``.values()``: the API renders plain rows
# (``pilots.api.completion.rendering``) at a fraction of the cost of model instances; its list views
# select the columns their serializer renders.
FIGURE_COLUMNS = ("as_of", "real_only", "computed_at", "completion", "planned", "variance", "schedule_status",
                  "pilot_count", "demo_pilot_count", "no_report_count", "behind_count", "critical_count",
                  "stalled_count", "ahead_of_plan_count", "includes_demo")
PROVINCE_COLUMNS = (*FIGURE_COLUMNS, "projected_complete_count", "designated_count", "accepted_count", "goal",
                    "designated_demo_count", "accepted_demo_count")
SUBTASK_COLUMNS = ("subtask_id", "subtask__code", "subtask__name_zh", "subtask__name_en", "subtask__task",
                   "subtask__task__code", "as_of", "real_only", "computed_at", "approved_percent", "approved_period",
                   "pending_percent", "pending_period", "planned_percent", "variance", "schedule_status", "no_report",
                   "stalled", "ahead_of_plan", "includes_demo")

RATE_COLUMNS = ("period", "deadline", "scope", "as_of", "real_only", "computed_at", "expected", "received", "on_time")


def brief_columns(relation: str) -> tuple[str, ...]:
    """The columns of a related object's brief (id, code and both names) next to a row."""
    return (f"{relation}_id", f"{relation}__code", f"{relation}__name_zh", f"{relation}__name_en")


def on_newest_date(rows: QuerySet, *, as_of: dt.date | None, real_only: bool) -> QuerySet:
    """Like ``on_date``, but the newest date is a subquery of the same statement: for a read that runs once."""
    rows = rows.filter(real_only=real_only)
    if as_of is None:
        return rows.filter(as_of=Subquery(rows.order_by("-as_of").values("as_of")[:1]))
    return rows.filter(as_of=as_of)


def province_completion(*, actor, programme: Programme, as_of: dt.date | None, real_only: bool) -> dict | None:
    """The province-wide figures (``PROVINCE_COLUMNS``), which every member may read."""
    rows = completion_rollups(actor=actor, programme=programme, scope=Scope.PROVINCE)
    return on_newest_date(rows, as_of=as_of, real_only=real_only).order_by("pk").values(*PROVINCE_COLUMNS).first()


@dataclass
class TaskBreakdown:
    rollup: dict  # FIGURE_COLUMNS and the task's brief
    subtasks: list[dict] = field(default_factory=list)  # SUBTASK_COLUMNS


@dataclass
class PilotCompletion:
    pilot: Pilot
    rollup: dict  # FIGURE_COLUMNS, pilot_state, projected_completion_date and forecast_status
    tasks: list[TaskBreakdown]
    goal_deadline: dt.date


def pilot_completion(*, actor, pilot: Pilot, as_of: dt.date | None, real_only: bool) -> PilotCompletion | None:
    """One pilot's figures by task and sub-task (a department sees the sub-tasks it takes part in).

    ``pilot`` must come from ``Pilot.objects.visible_to(actor)``.
    """
    # The pilot's row and its task rows in one statement, on the newest date of the pilot's row by default.
    if as_of is None:
        newest = CompletionRollup.objects.filter(pilot=pilot, scope=Scope.PILOT, real_only=real_only)
        as_of = Subquery(newest.order_by("-as_of").values("as_of")[:1])
    rows = (
        CompletionRollup.objects.filter(pilot=pilot, scope__in=(Scope.PILOT, Scope.PILOT_TASK), real_only=real_only,
                                        as_of=as_of)
        .order_by("task__order", "task__code")
        .values("scope", *FIGURE_COLUMNS, "pilot_state", "projected_completion_date", "forecast_status",
                *brief_columns("task"))
    )
    rollup, tasks = None, {}
    for row in rows:
        if row["scope"] == Scope.PILOT:
            rollup = row
        else:
            tasks[row["task_id"]] = TaskBreakdown(row)
    if rollup is None:
        return None
    subtask_rows = (
        SubtaskCompletion.objects.visible_to(actor).filter(pilot=pilot, as_of=rollup["as_of"], real_only=real_only)
        .order_by("subtask__order", "subtask__code")
        .values(*SUBTASK_COLUMNS)
    )
    for row in subtask_rows:
        if row["subtask__task"] in tasks:
            tasks[row["subtask__task"]].subtasks.append(row)
    return PilotCompletion(pilot=pilot, rollup=rollup, tasks=list(tasks.values()),
                           goal_deadline=pilot.programme.goal_deadline)


def only_programme_with_pilots() -> Programme | None:
    """The programme meant when none is named and several are loaded: the one with pilots, if one alone has them
    (the 2024 catalog loads beside the 2020 programme, whose pilots all figures are about)."""
    programmes = list(Programme.objects.filter(pilots__isnull=False).distinct().order_by("pk")[:2])
    return programmes[0] if len(programmes) == 1 else None
