"""The rollups: a pilot, a pilot × task, and the areas (prefecture, province, task, department), in SQL."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db import connection
from django.db.models import Q, Sum

from pilots.models import (
    CompletionRollup,
    ProgressReport,
    SubtaskCompletion,
)
from pilots.periods import Period
from pilots.services.completion.forecast import NO_DATA, Forecast, forecast_completion
from pilots.services.completion.run import DESIGNATED_STATES, PilotAsOf, Scope, State, _Run, _stale
from pilots.services.completion.sql import (
    _execute,
    _fetch,
    _flag_count,
    _ids,
    _params,
    _rollup_conflict,
    _rollup_insert,
    _status,
    _table,
    _upsert_rollup_values,
    _weighted_mean,
)
from tasks_app.models import SubTask, SubTaskDepartment, Task

# --- Pilot and pilot × task rollups -----------------------------------------------------------

def _subtask_figures(weight: str) -> str:
    """The aggregates over pilot × sub-task rows ``sc`` (joined to their sub-task ``st``) that every rollup has."""
    return f"""
        {_weighted_mean('sc.approved_percent', weight)} AS completion,
        {_weighted_mean('sc.planned_percent', weight)} AS planned,
        {_weighted_mean('sc.variance', weight)} AS variance,
        {_flag_count('sc.no_report')} AS no_report_count,
        {_flag_count("sc.schedule_status = 'behind'")} AS behind_count,
        {_flag_count("sc.schedule_status = 'critical'")} AS critical_count,
        {_flag_count('sc.stalled')} AS stalled_count,
        {_flag_count('sc.ahead_of_plan')} AS ahead_of_plan_count,
        MAX(CASE WHEN sc.includes_demo THEN 1 ELSE 0 END) = 1 AS includes_demo"""


def _upsert_pilot_rows(run: _Run, real_only: bool, pilots: dict[int, PilotAsOf]) -> int:
    if not pilots:
        return 0
    """One row per pilot: aggregated in SQL, finished in Python with its state and forecast."""
    ids = _ids(pilots)
    per_pilot = _fetch(f"""
        SELECT x.*, {_status('x.variance')} FROM (
            SELECT sc.pilot_id, {_subtask_figures(run.weight)}
            FROM {_table(SubtaskCompletion)} sc JOIN {_table(SubTask)} st ON st.id = sc.subtask_id
            WHERE sc.as_of = %(as_of)s AND sc.real_only = %(real_only)s AND sc.pilot_id IN ({ids})
            GROUP BY sc.pilot_id
        ) x ORDER BY x.pilot_id""", _params(run, real_only))
    forecasts = _forecasts(run, real_only, ids)
    ops = connection.ops
    rows = []
    for (pilot_id, completion, planned, variance, no_report, behind, critical, stalled, ahead, includes_demo,
         status) in per_pilot:
        pilot = pilots[pilot_id]
        rows.append((
            run.programme.pk, Scope.PILOT.value, pilot_id, ops.adapt_datefield_value(run.as_of), real_only, None,
            completion, planned, variance, status, 1, int(pilot.is_demo), no_report, behind, critical, stalled,
            ahead, bool(includes_demo), pilot.state,
            ops.adapt_datefield_value(forecasts.get(pilot_id, NO_DATA).date), forecasts.get(pilot_id, NO_DATA).status,
            None, None, None, None, ops.adapt_datetimefield_value(run.run_at), pilot_id, pilot.prefecture_id, None,
            None, None,
        ))
    return _upsert_rollup_values(rows)


def _upsert_pilot_task_rows(run: _Run, real_only: bool, pilots: dict[int, PilotAsOf]) -> int:
    """One row per pilot and task, straight from SQL; the pilot's state comes from its pilot row."""
    if not pilots:
        return 0
    params = _params(run, real_only)
    return _execute(f"""
        {_rollup_insert()}
        SELECT %(programme)s, 'pilot_task', x.pilot_id, %(as_of)s, %(real_only)s, x.task_id,
               x.completion, x.planned, x.variance, {_status('x.variance')}, 1, x.demo_pilot_count,
               x.no_report_count, x.behind_count, x.critical_count, x.stalled_count, x.ahead_of_plan_count,
               x.includes_demo, x.pilot_state, NULL, '', NULL, NULL, NULL, NULL, %(run_at)s,
               x.pilot_id, x.prefecture_id, NULL, NULL, NULL
        FROM (
            SELECT sc.pilot_id, st.task_id, pr.prefecture_id, pr.pilot_state, pr.demo_pilot_count,
                   {_subtask_figures(run.weight)}
            FROM {_table(SubtaskCompletion)} sc JOIN {_table(SubTask)} st ON st.id = sc.subtask_id
            JOIN {_table(CompletionRollup)} pr ON pr.programme_id = %(programme)s AND pr.scope = 'pilot'
                AND pr.scope_id = sc.pilot_id AND pr.as_of = sc.as_of AND pr.real_only = sc.real_only
                AND pr.task_id IS NULL
            WHERE sc.as_of = %(as_of)s AND sc.real_only = %(real_only)s AND sc.pilot_id IN ({_ids(pilots)})
            GROUP BY sc.pilot_id, st.task_id, pr.prefecture_id, pr.pilot_state, pr.demo_pilot_count
        ) x
        WHERE TRUE
        ORDER BY x.pilot_id, x.task_id
        {_rollup_conflict(with_task=True)}""", params)


def _forecasts(run: _Run, real_only: bool, ids: str) -> dict[int, Forecast]:
    """Each pilot's projected completion date, from its overall completion at the end of each reported quarter.

    The overall completion at a quarter's end is the weighted mean, over all the programme's
    sub-tasks, of the latest figure approved for that quarter or before (0 before the first). SQL
    gets it as a running sum of each sub-task's weighted change from one approved quarter to the next.
    """
    report_demo = "AND NOT r.is_demo" if real_only else ""
    points = _fetch(f"""
WITH approved AS (
    -- Approved by the as-of date, newest first; the first row of each period is its latest revision.
    SELECT r.pilot_id, r.subtask_id, r.period_start, r.percent_complete,
           ROW_NUMBER() OVER newest AS position, RANK() OVER by_period AS period_position
    FROM {_table(ProgressReport)} r
    WHERE r.state = 'approved' AND r.reviewed_at < %(cutoff)s AND r.pilot_id IN ({ids}) {report_demo}
    WINDOW newest AS (PARTITION BY r.pilot_id, r.subtask_id ORDER BY r.period_start DESC, r.revision DESC),
           by_period AS (PARTITION BY r.pilot_id, r.subtask_id ORDER BY r.period_start DESC)
), changes AS (
    -- Each approved figure minus the one approved for the quarter before (the next row, newest first).
    SELECT a.pilot_id, a.period_start,
           {run.weight} * (a.percent_complete - COALESCE(LEAD(a.percent_complete) OVER (
               PARTITION BY a.pilot_id, a.subtask_id ORDER BY a.period_start DESC), 0)) AS change
    FROM approved a
    JOIN {_table(SubTask)} st ON st.id = a.subtask_id
    JOIN {_table(Task)} t ON t.id = st.task_id
    WHERE a.position = a.period_position AND t.programme_id = %(programme)s
), per_quarter AS (
    SELECT pilot_id, period_start, SUM(change) AS change FROM changes GROUP BY pilot_id, period_start
)
SELECT pilot_id, period_start,
       SUM(change) OVER (PARTITION BY pilot_id ORDER BY period_start ROWS UNBOUNDED PRECEDING) AS total
FROM per_quarter
ORDER BY pilot_id, period_start""", _params(run, real_only))
    total_weight = (SubTask.objects.filter(task__programme=run.programme).aggregate(total=Sum("weight"))["total"]
                    if run.weight != "1" else run.subtask_count)
    series: dict[int, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for pilot_id, period_start, total in points:
        period_end = Period.containing(dt.date.fromisoformat(str(period_start))).end
        overall = (Decimal(str(total)) / Decimal(total_weight)).quantize(Decimal("0.01"))
        series[pilot_id].append((period_end, overall))
    return {pilot_id: forecast_completion(values, as_of=run.as_of) for pilot_id, values in series.items()}


# --- Area rollups: prefecture, province, task, department -------------------------------------

# The aggregates over per-pilot rows ``r`` that every area rollup has.
_AREA_FIGURES = """
    ROUND(AVG(r.completion), 2) AS completion, ROUND(AVG(r.planned), 2) AS planned,
    ROUND(AVG(r.variance), 2) AS variance, COUNT(*) AS pilot_count,
    COALESCE(SUM(r.demo_pilot_count), 0) AS demo_pilot_count,
    COALESCE(SUM(r.no_report_count), 0) AS no_report_count, COALESCE(SUM(r.behind_count), 0) AS behind_count,
    COALESCE(SUM(r.critical_count), 0) AS critical_count, COALESCE(SUM(r.stalled_count), 0) AS stalled_count,
    COALESCE(SUM(r.ahead_of_plan_count), 0) AS ahead_of_plan_count,
    COALESCE(MAX(CASE WHEN r.includes_demo THEN 1 ELSE 0 END), 0) = 1 AS includes_demo"""


def _area_select(*, scope: str, scope_id: str, task: str = "NULL", province: str = "NULL, NULL, NULL, NULL",
                 prefecture: str = "NULL", department: str = "NULL", demo: str = "NULL, NULL") -> str:
    """The select list of an area rollup over the aggregated ``x``, in _ROLLUP_COLUMNS order."""
    return (f"SELECT %(programme)s, '{scope}', {scope_id}, %(as_of)s, %(real_only)s, {task}, "
            f"x.completion, x.planned, x.variance, {_status('x.variance')}, x.pilot_count, x.demo_pilot_count, "
            f"x.no_report_count, x.behind_count, x.critical_count, x.stalled_count, x.ahead_of_plan_count, "
            f"x.includes_demo, '', NULL, '', {province}, %(run_at)s, NULL, {prefecture}, {department}, {demo}")


def _upsert_area_rows(run: _Run, real_only: bool) -> int:
    rollups = _table(CompletionRollup)
    counted = (f"r.programme_id = %(programme)s AND r.as_of = %(as_of)s AND r.real_only = %(real_only)s "
               f"AND r.pilot_state <> '{State.REVOKED.value}'")
    params = _params(run, real_only, goal=run.programme.goal_pilot_count,
                     goal_deadline=connection.ops.adapt_datefield_value(run.programme.goal_deadline))
    own_prefecture = "" if run.full else f"AND r.prefecture_id = {int(run.pilot.prefecture_id)}"
    designated = ", ".join(f"'{state.value}'" for state in DESIGNATED_STATES)
    written = _execute(f"""
        {_rollup_insert()}
        {_area_select(scope=Scope.PREFECTURE, scope_id="x.prefecture_id", prefecture="x.prefecture_id")}
        FROM (SELECT r.prefecture_id, {_AREA_FIGURES} FROM {rollups} r
              WHERE r.scope = 'pilot' AND {counted} {own_prefecture} GROUP BY r.prefecture_id) x
        WHERE TRUE ORDER BY x.prefecture_id
        {_rollup_conflict(with_task=False)}""", params)
    written += _execute(f"""
        {_rollup_insert()}
        {_area_select(scope=Scope.PROVINCE, scope_id="%(programme)s", province=(
            "x.projected_complete_count, x.designated_count, x.accepted_count, %(goal)s"),
            demo="x.designated_demo_count, x.accepted_demo_count")}
        FROM (SELECT {_AREA_FIGURES},
                     COALESCE({_flag_count('r.projected_completion_date <= %(goal_deadline)s')}, 0)
                         AS projected_complete_count,
                     COALESCE({_flag_count(f'r.pilot_state IN ({designated})')}, 0) AS designated_count,
                     COALESCE({_flag_count(f"r.pilot_state = '{State.ACCEPTED.value}'")}, 0) AS accepted_count,
                     COALESCE({_flag_count(f'r.pilot_state IN ({designated}) AND r.demo_pilot_count > 0')}, 0)
                         AS designated_demo_count,
                     COALESCE({_flag_count(f"r.pilot_state = '{State.ACCEPTED.value}' AND r.demo_pilot_count > 0")},
                              0) AS accepted_demo_count
              FROM {rollups} r WHERE r.scope = 'pilot' AND {counted}) x
        WHERE TRUE
        {_rollup_conflict(with_task=False)}""", params)
    written += _execute(f"""
        {_rollup_insert()}
        {_area_select(scope=Scope.TASK, scope_id="x.task_id", task="x.task_id")}
        FROM (SELECT r.task_id, {_AREA_FIGURES} FROM {rollups} r
              WHERE r.scope = 'pilot_task' AND {counted} GROUP BY r.task_id) x
        WHERE TRUE ORDER BY x.task_id
        {_rollup_conflict(with_task=True)}""", params)
    # A department: per pilot, the weighted mean over the sub-tasks it leads; then the mean over pilots.
    written += _execute(f"""
        {_rollup_insert()}
        {_area_select(scope=Scope.DEPARTMENT, scope_id="x.department_id", department="x.department_id")}
        FROM (
            SELECT r.department_id, {_AREA_FIGURES}
            FROM (
                SELECT sc.pilot_id, d.department_id, MAX(pr.demo_pilot_count) AS demo_pilot_count,
                       {_subtask_figures(run.weight)}
                FROM {_table(SubtaskCompletion)} sc
                JOIN {_table(SubTask)} st ON st.id = sc.subtask_id
                JOIN {_table(SubTaskDepartment)} d ON d.subtask_id = sc.subtask_id
                    AND d.role = '{SubTaskDepartment.Role.LEAD.value}'
                JOIN {rollups} pr ON pr.scope = 'pilot' AND pr.scope_id = sc.pilot_id
                    AND pr.programme_id = %(programme)s AND pr.as_of = sc.as_of AND pr.real_only = sc.real_only
                    AND pr.task_id IS NULL AND pr.pilot_state <> '{State.REVOKED.value}'
                WHERE sc.as_of = %(as_of)s AND sc.real_only = %(real_only)s
                GROUP BY sc.pilot_id, d.department_id
            ) r
            GROUP BY r.department_id
        ) x
        WHERE TRUE ORDER BY x.department_id
        {_rollup_conflict(with_task=False)}""", params)
    areas = Q(scope__in=[Scope.PROVINCE, Scope.TASK, Scope.DEPARTMENT])
    areas |= Q(scope=Scope.PREFECTURE) if run.full else Q(scope=Scope.PREFECTURE, scope_id=run.pilot.prefecture_id)
    CompletionRollup.objects.filter(areas, _stale(run, real_only), programme=run.programme).delete()
    return written
