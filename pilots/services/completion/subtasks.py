"""The pilot × sub-task rows: latest approved and pending reports, plans, variance and flags, in SQL."""

from __future__ import annotations

from pilots.models import (
    CompletionRollup,
    Milestone,
    Pilot,
    PlanItem,
    ProgressReport,
    SubtaskCompletion,
)
from pilots.services.completion.run import PilotAsOf, Scope, _Run
from pilots.services.completion.sql import (
    _ROLLUP_COLUMNS,
    _days,
    _execute,
    _ids,
    _number,
    _params,
    _rollup_conflict,
    _rollup_insert,
    _status,
    _table,
)
from tasks_app.models import SubTask, Task

# --- Pilot × sub-task rows --------------------------------------------------------------------

def _upsert_subtask_rows(run: _Run, real_only: bool, pilots: dict[int, PilotAsOf]) -> int:
    if not pilots:
        return 0
    ids = _ids(pilots)
    report_demo = "AND NOT r.is_demo" if real_only else ""
    plan_demo = "AND NOT pi.is_demo" if real_only else ""
    report, milestone, plan_item = _table(ProgressReport), _table(Milestone), _table(PlanItem)
    sql = f"""
WITH approved AS (
    -- Approved by the as-of date, newest first. The first row of each period (position =
    -- period_position) is that period's latest approved revision; recency numbers the periods.
    SELECT r.pilot_id, r.subtask_id, r.period, r.percent_complete, r.is_demo,
           CAST(SUBSTR(r.period, 1, 4) AS INTEGER) * 4 + CAST(SUBSTR(r.period, 6, 1) AS INTEGER) AS quarter_no,
           ROW_NUMBER() OVER newest AS position, RANK() OVER by_period AS period_position,
           DENSE_RANK() OVER by_period AS recency
    FROM {report} r
    WHERE r.state = 'approved' AND r.reviewed_at < %(cutoff)s AND r.pilot_id IN ({ids}) {report_demo}
    WINDOW newest AS (PARTITION BY r.pilot_id, r.subtask_id ORDER BY r.period_start DESC, r.revision DESC),
           by_period AS (PARTITION BY r.pilot_id, r.subtask_id ORDER BY r.period_start DESC)
), latest AS (
    -- The latest approved figure, and what the stalled rule needs about the quarters before it.
    SELECT pilot_id, subtask_id,
           MAX(CASE WHEN recency = 1 THEN percent_complete END) AS percent,
           MAX(CASE WHEN recency = 1 THEN period END) AS period,
           MAX(CASE WHEN recency = 1 AND is_demo THEN 1 ELSE 0 END) AS demo,
           COUNT(*) AS quarters, MIN(percent_complete) AS low, MAX(percent_complete) AS high,
           MAX(quarter_no) - MIN(quarter_no) AS span
    FROM approved WHERE position = period_position AND recency <= %(stall_window)s
    GROUP BY pilot_id, subtask_id
), pending AS (
    -- Submitted by the as-of date and not reviewed by then.
    SELECT r.pilot_id, r.subtask_id, r.period, r.percent_complete, r.is_demo,
           ROW_NUMBER() OVER (PARTITION BY r.pilot_id, r.subtask_id
                              ORDER BY r.period_start DESC, r.revision DESC) AS recency
    FROM {report} r
    WHERE r.submitted_at < %(cutoff)s
      AND (r.state = 'submitted' OR (r.state IN ('approved', 'returned') AND r.reviewed_at >= %(cutoff)s))
      AND r.pilot_id IN ({ids}) {report_demo}
), bounds AS (
    -- Each plan item's nearest milestone on or before the as-of date and after it.
    SELECT pi.id AS plan_item_id, pi.pilot_id, pi.subtask_id, p.construction_start AS start_day,
           MAX(CASE WHEN m.due_on <= %(as_of)s THEN m.due_on END) AS before_day,
           MIN(CASE WHEN m.due_on > %(as_of)s THEN m.due_on END) AS after_day
    FROM {milestone} m JOIN {plan_item} pi ON pi.id = m.plan_item_id JOIN {_table(Pilot)} p ON p.id = pi.pilot_id
    WHERE pi.pilot_id IN ({ids}) {plan_demo}
    GROUP BY pi.id, pi.pilot_id, pi.subtask_id, p.construction_start
), plan_points AS (
    -- The plan's line runs through 0 on the day construction starts and then each milestone: the
    -- points either side of the as-of date (on the same day a milestone comes before the start, the
    -- start before a later milestone).
    SELECT b.pilot_id, b.subtask_id,
           CASE WHEN b.start_day <= %(as_of)s AND (b.before_day IS NULL OR b.start_day > b.before_day)
                THEN b.start_day ELSE b.before_day END AS before_day,
           CASE WHEN b.start_day <= %(as_of)s AND (b.before_day IS NULL OR b.start_day > b.before_day)
                THEN 0 ELSE mb.target_percent END AS before_percent,
           CASE WHEN b.start_day > %(as_of)s AND (b.after_day IS NULL OR b.start_day <= b.after_day)
                THEN b.start_day ELSE b.after_day END AS after_day,
           CASE WHEN b.start_day > %(as_of)s AND (b.after_day IS NULL OR b.start_day <= b.after_day)
                THEN 0 ELSE ma.target_percent END AS after_percent
    FROM bounds b
    LEFT JOIN {milestone} mb ON mb.plan_item_id = b.plan_item_id AND mb.due_on = b.before_day
    LEFT JOIN {milestone} ma ON ma.plan_item_id = b.plan_item_id AND ma.due_on = b.after_day
), planned AS (
    SELECT pilot_id, subtask_id,
           ROUND(CASE WHEN before_day IS NULL THEN 0
                      WHEN after_day IS NULL THEN before_percent
                      ELSE before_percent + (after_percent - before_percent) * {_days('%(as_of)s', 'before_day')}
                                            / {_days('after_day', 'before_day')}
                 END, 2) AS percent
    FROM plan_points
), figures AS (
    SELECT p.id AS pilot_id, st.id AS subtask_id,
           COALESCE(l.percent, 0) AS approved, l.period AS approved_period,
           pe.percent_complete AS pending, pe.period AS pending_period, pl.percent AS planned,
           CASE WHEN pl.percent IS NULL THEN NULL ELSE ROUND(COALESCE(l.percent, 0) - pl.percent, 2) END AS variance,
           CASE WHEN l.percent IS NULL THEN TRUE ELSE FALSE END AS no_report,
           CASE WHEN l.quarters = %(stall_window)s AND l.span = %(stall_window)s - 1 AND l.low = l.high
                     AND l.high < 100 THEN TRUE ELSE FALSE END AS stalled,
           CASE WHEN p.is_demo OR l.demo = 1 OR pe.is_demo THEN TRUE ELSE FALSE END AS includes_demo
    FROM {_table(Pilot)} p
    CROSS JOIN {_table(SubTask)} st
    JOIN {_table(Task)} t ON t.id = st.task_id
    LEFT JOIN latest l ON l.pilot_id = p.id AND l.subtask_id = st.id
    LEFT JOIN pending pe ON pe.pilot_id = p.id AND pe.subtask_id = st.id AND pe.recency = 1
    LEFT JOIN planned pl ON pl.pilot_id = p.id AND pl.subtask_id = st.id
    WHERE p.id IN ({ids}) AND t.programme_id = %(programme)s
)
INSERT INTO {_table(SubtaskCompletion)} (
    pilot_id, subtask_id, as_of, real_only, approved_percent, approved_period, pending_percent, pending_period,
    planned_percent, variance, schedule_status, no_report, stalled, ahead_of_plan, includes_demo, computed_at)
SELECT pilot_id, subtask_id, %(as_of)s, %(real_only)s, approved, approved_period, pending, pending_period,
       planned, variance, {_status('variance')}, no_report, stalled,
       CASE WHEN variance > %(margin)s THEN TRUE ELSE FALSE END, includes_demo, %(run_at)s
FROM figures
WHERE TRUE
ORDER BY pilot_id, subtask_id
ON CONFLICT (pilot_id, as_of, real_only, subtask_id) DO UPDATE SET
    approved_percent = excluded.approved_percent, approved_period = excluded.approved_period,
    pending_percent = excluded.pending_percent, pending_period = excluded.pending_period,
    planned_percent = excluded.planned_percent, variance = excluded.variance,
    schedule_status = excluded.schedule_status, no_report = excluded.no_report, stalled = excluded.stalled,
    ahead_of_plan = excluded.ahead_of_plan, includes_demo = excluded.includes_demo,
    computed_at = excluded.computed_at
"""
    params = _params(run, real_only, stall_window=run.rules.stalled_periods + 1,
                     margin=_number(run.rules.ahead_of_plan_margin))
    _execute(sql, params)
    return len(pilots) * run.subtask_count  # SQLite reports no row count for WITH … INSERT


_SUBTASK_COLUMNS = (
    "pilot_id", "subtask_id", "as_of", "real_only", "approved_percent", "approved_period", "pending_percent",
    "pending_period", "planned_percent", "variance", "schedule_status", "no_report", "stalled", "ahead_of_plan",
    "includes_demo", "computed_at",
)


def _pilots_with_demo_content(run: _Run) -> set[int]:
    """Pilots with a demo report or a demo plan item: only theirs differ between the two variants."""
    reports = ProgressReport.objects.filter(is_demo=True, pilot__programme=run.programme)
    plans = PlanItem.objects.filter(is_demo=True, pilot__programme=run.programme)
    if not run.full:
        reports, plans = reports.filter(pilot=run.pilot), plans.filter(pilot=run.pilot)
    # order_by(): the models' default orderings would otherwise join into the DISTINCT.
    return (set(reports.order_by().values_list("pilot_id", flat=True).distinct())
            | set(plans.order_by().values_list("pilot_id", flat=True).distinct()))


def _copy_select(columns: tuple[str, ...], source: str, where: str) -> str:
    """SELECT of the all-data rows ``where`` as real_only rows written by this run."""
    values = ", ".join("TRUE" if column == "real_only" else "%(run_at)s" if column == "computed_at" else column
                       for column in columns)
    return f"SELECT {values} FROM {source} WHERE real_only = FALSE AND {where}"


def _copy_subtask_rows(run: _Run, pilot_ids: set[int]) -> int:
    """The real_only pilot × sub-task rows of pilots with no demo content: their all-data rows, copied."""
    if not pilot_ids:
        return 0
    key = ("pilot_id", "as_of", "real_only", "subtask_id")
    updates = ", ".join(f"{column} = excluded.{column}" for column in _SUBTASK_COLUMNS if column not in key)
    return _execute(f"""
        INSERT INTO {_table(SubtaskCompletion)} ({', '.join(_SUBTASK_COLUMNS)})
        {_copy_select(_SUBTASK_COLUMNS, _table(SubtaskCompletion),
                      f"as_of = %(as_of)s AND pilot_id IN ({_ids(pilot_ids)})")}
        ORDER BY pilot_id, subtask_id
        ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}""", _params(run, True))


def _copy_pilot_rollups(run: _Run, pilot_ids: set[int], *, scope: str) -> int:
    """The real_only pilot (or pilot × task) rollups of pilots with no demo content, copied likewise."""
    if not pilot_ids:
        return 0
    where = (f"programme_id = %(programme)s AND scope = '{scope}' AND as_of = %(as_of)s "
             f"AND scope_id IN ({_ids(pilot_ids)})")
    with_task = scope == Scope.PILOT_TASK
    return _execute(f"""
        {_rollup_insert()}
        {_copy_select(_ROLLUP_COLUMNS, _table(CompletionRollup), where)}
        ORDER BY scope_id{', task_id' if with_task else ''}
        {_rollup_conflict(with_task=with_task)}""", _params(run, True))
