"""The completion engine: computes and stores completion, schedule variance, flags, forecasts and reporting rates.

Everything is computed in the database, set-based: window functions pick each pilot's latest approved
and pending reports, aggregates make the means, and upserts (``INSERT … SELECT … ON CONFLICT … DO
UPDATE``, which SQLite ≥ 3.35 and PostgreSQL both run) write the rows. Python only loops over
aggregate rows (one per pilot, or per pilot and quarter for the forecast), never over reports.

The definitions (copied into the README):

- *As of D* means: reports approved (``reviewed_at``) on or before D, Asia/Shanghai, and pilot states
  effective on or before D. A pilot with no state history at all counts in its current state from its
  designation day.
- A pilot's completion of a sub-task is the percent of its latest approved report (latest by period,
  then revision); no approved report counts as 0 and is flagged ``no_report``. The latest submitted
  but not yet reviewed figure is kept beside it as *pending* and never enters any mean.
- A pilot's completion of a task, and overall, is the mean of its sub-tasks weighted by
  ``SubTask.weight``. A prefecture, the province, a task across pilots and a department (the
  sub-tasks it leads) across pilots are unweighted means over their pilots. Revoked pilots, and
  pilots not designated by D, are left out.
- Planned percent: 0 at construction start, linear between the milestones of the pilot's plan for
  that sub-task, flat after the last one (no milestones: no plan, no variance). Variance = approved
  minus planned, in points; its status comes from ``CompletionSettings``.
- ``real_only`` rows leave out demo pilots, demo reports and demo plans.

Concurrency: each table's natural key is a unique constraint and every write is an upsert, so two runs
at once cannot duplicate a row; a run then deletes the rows of its date and scope that it did not
write (``computed_at`` older than the run: a pilot no longer designated on that date, …). The
rollups that read other pilots' rows (prefecture, province, task, department, province reporting
rates) are computed after taking a row lock on the programme's ``CompletionSettings``, so two runs
cannot overwrite each other's area figures with a stale read. Every run writes the tables in the same
order and each table in key order (a one-pilot run writes a subset of a full run's rows), so two
runs wait for each other rather than deadlock.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max, Min, Q, Sum, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from pilots.models import (
    CompletionRollup,
    CompletionSettings,
    ForecastStatus,
    Milestone,
    Pilot,
    PilotStateChange,
    PlanItem,
    ProgressReport,
    ReportingRate,
    ReportTransition,
    SubtaskCompletion,
)
from pilots.periods import Period, periods_between
from tasks_app.models import Programme, SubTask, SubTaskDepartment, Task

Scope = CompletionRollup.Scope
State = Pilot.State
# Goal attainment: pilots in these states as of the date count as designated (not revoked, not failed).
DESIGNATED_STATES = (State.DESIGNATED, State.UNDER_CONSTRUCTION, State.ACCEPTED)
# The forecast gives no date further out than this: a flat trend is "no projection", not a date in 2090.
FORECAST_HORIZON_YEARS = 10


@dataclass(frozen=True)
class PilotAsOf:
    """A pilot as the rules see it on the as-of date."""

    pilot_id: int
    state: str
    prefecture_id: int
    is_demo: bool
    construction_start: dt.date
    construction_end: dt.date

    @property
    def counted(self) -> bool:
        """Counted in prefecture, province, task and department figures: every state but revoked."""
        return self.state != State.REVOKED


def completion_recompute_all(*, as_of: dt.date) -> dict[str, int]:
    """Compute every figure of every programme as of ``as_of``; idempotent."""
    counts: Counter[str] = Counter()
    for programme in Programme.objects.order_by("pk"):
        counts.update(_recompute(programme=programme, as_of=as_of, pilot=None))
    return dict(counts)


def completion_recompute_pilot(*, pilot_id: int, as_of: dt.date) -> dict[str, int]:
    """Recompute one pilot's figures as of ``as_of`` and the rollups it feeds; idempotent.

    If no snapshot exists for that date yet, every pilot is computed: the prefecture and province
    figures are means over all pilots and would otherwise rest on this pilot alone.
    """
    pilot = Pilot.objects.select_related("programme").filter(pk=pilot_id).order_by().first()
    if pilot is None:  # deleted since the message was sent: nothing to do
        return {}
    has_snapshot = CompletionRollup.objects.filter(
        programme=pilot.programme, scope=Scope.PROVINCE, scope_id=pilot.programme_id, as_of=as_of, real_only=False,
    ).exists()
    return _recompute(programme=pilot.programme, as_of=as_of, pilot=pilot if has_snapshot else None)


def completion_settings_for(programme: Programme) -> CompletionSettings:
    """The programme's settings row, created with the defaults the first time it is needed."""
    row, _created = CompletionSettings.objects.get_or_create(programme=programme)
    return row


def pilot_states_as_of(*, programme: Programme, as_of: dt.date) -> dict[int, PilotAsOf]:
    """Every pilot of the programme designated by ``as_of``, with its state on that date."""
    latest = dict(
        PilotStateChange.objects.filter(pilot__programme=programme, effective_on__lte=as_of)
        .annotate(rank=Window(RowNumber(), partition_by=[F("pilot_id")],
                              order_by=[F("effective_on").desc(), F("id").desc()]))
        .filter(rank=1)
        .values_list("pilot_id", "state")
    )
    with_history = set(
        PilotStateChange.objects.filter(pilot__programme=programme).values_list("pilot_id", flat=True).distinct()
    )
    pilots = {}
    for pk, state, prefecture_id, is_demo, designated_on, start, end in Pilot.objects.filter(
        programme=programme
    ).values_list("pk", "state", "prefecture_id", "is_demo", "designated_on", "construction_start",
                  "construction_end"):
        if pk in latest:
            state = latest[pk]
        elif pk in with_history or designated_on > as_of:
            continue  # not designated yet on that date
        pilots[pk] = PilotAsOf(pk, state, prefecture_id, is_demo, start, end)
    return pilots


@dataclass(frozen=True)
class Forecast:
    """When a pilot is projected to reach 100, or why there is no such date (``ForecastStatus``)."""

    date: dt.date | None
    status: str


NO_DATA = Forecast(None, ForecastStatus.INSUFFICIENT_DATA.value)


def forecast_completion(points: list[tuple[dt.date, Decimal]], *, as_of: dt.date) -> Forecast:
    """Where a least-squares line through ``(period end, overall completion)`` reaches 100.

    Already at 100: complete, on the end of the first period that reached it. Otherwise a date only
    with two or more points and a rising trend, after ``as_of`` and within ``FORECAST_HORIZON_YEARS``:
    a line that reached 100 on or before ``as_of`` while the figure has not is *behind its own trend*
    (no date: "done today" would be false). The day is the first whole day on or after the crossing.
    """
    if not points:
        return NO_DATA
    if points[-1][1] >= 100:
        return Forecast(next(day for day, value in points if value >= 100), ForecastStatus.COMPLETE.value)
    if len(points) < 2:
        return NO_DATA
    # Exact, in integers: the recompute runs this for every pilot, and Fraction sums cost a second.
    # x = days after as_of; y = the percents over a common denominator; n²·var(x) and n²·cov(x, y).
    ys = [Fraction(value) for _day, value in points]
    scale = math.lcm(*(y.denominator for y in ys))
    ys = [y.numerator * (scale // y.denominator) for y in ys]
    xs = [(day - as_of).days for day, _value in points]
    n, sum_x, sum_y = len(xs), sum(xs), sum(ys)
    variance = n * sum(x * x for x in xs) - sum_x * sum_x
    if variance == 0:
        return NO_DATA  # every point on one day: no trend to draw
    covariance = n * sum(x * y for x, y in zip(xs, ys)) - sum_x * sum_y
    if covariance <= 0:  # a flat or falling trend never reaches 100
        return Forecast(None, ForecastStatus.NOT_RISING.value)
    # The crossing, mean(x) + (100 − mean(y)) / slope, as one fraction; -(-a // b) is its ceiling.
    crossing_numerator = sum_x * covariance + (100 * scale * n - sum_y) * variance
    days = -(-crossing_numerator // (n * covariance))
    if days <= 0:
        return Forecast(None, ForecastStatus.BEHIND_TREND.value)
    if days > FORECAST_HORIZON_YEARS * 366:
        return Forecast(None, ForecastStatus.BEYOND_HORIZON.value)
    return Forecast(as_of + dt.timedelta(days=days), ForecastStatus.PROJECTED.value)


def forecast_completion_date(points: list[tuple[dt.date, Decimal]], *, as_of: dt.date) -> dt.date | None:
    """The projected (or, when complete, the reached) date of ``forecast_completion``."""
    return forecast_completion(points, as_of=as_of).date


# --- One run ----------------------------------------------------------------------------------

@dataclass
class _Run:
    programme: Programme
    as_of: dt.date
    rules: CompletionSettings
    run_at: dt.datetime
    cutoff: dt.datetime  # the first instant after the as-of day, Asia/Shanghai
    weight: str  # SQL for a sub-task's weight (all weights zero: every sub-task weighs 1)
    subtask_count: int
    pilot: Pilot | None  # None: every pilot
    received: dict | None = None  # reports received, by prefecture, quarter and demo or not (both variants)

    @property
    def full(self) -> bool:
        return self.pilot is None


def _recompute(*, programme: Programme, as_of: dt.date, pilot: Pilot | None) -> dict[str, int]:
    rules = completion_settings_for(programme)
    subtasks = SubTask.objects.filter(task__programme=programme)
    total_weight = subtasks.aggregate(total=Sum("weight"))["total"] or 0
    zone = ZoneInfo(settings.TIME_ZONE)
    run = _Run(
        programme=programme, as_of=as_of, rules=rules, run_at=timezone.now(),
        cutoff=dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min, tzinfo=zone),
        weight="st.weight" if total_weight > 0 else "1", subtask_count=subtasks.count(), pilot=pilot,
    )
    counts: Counter[str] = Counter()
    with transaction.atomic():
        _tune_session(run)
        states = pilot_states_as_of(programme=programme, as_of=as_of)
        variants = []
        with_demo_content = _pilots_with_demo_content(run)
        for real_only in (False, True):
            included = {pk: p for pk, p in states.items() if not (real_only and p.is_demo)}
            mine = included if run.full else {pk: p for pk, p in included.items() if pk == pilot.pk}
            # A real pilot with no demo report or plan has the same real_only figures as all-data ones:
            # they are copied from the first variant instead of computed from the reports again.
            copied = set() if not real_only else {pk for pk in mine if pk not in with_demo_content}
            computed = {pk: p for pk, p in mine.items() if pk not in copied}
            variants.append((real_only, included, computed, copied))
        # Rows are written table by table, each in key order, so that two runs wait rather than deadlock.
        for real_only, _included, computed, copied in variants:
            counts["subtask_rows"] += _upsert_subtask_rows(run, real_only, computed)
            counts["subtask_rows"] += _copy_subtask_rows(run, copied)
            _sweep_subtask_rows(run, real_only)
        _refresh_statistics(run, SubtaskCompletion)
        for real_only, _included, computed, copied in variants:
            counts["pilot_rows"] += _upsert_pilot_rows(run, real_only, computed)
            counts["pilot_rows"] += _copy_pilot_rollups(run, copied, scope=Scope.PILOT)
        _refresh_statistics(run, CompletionRollup)
        for real_only, _included, computed, copied in variants:
            counts["pilot_rows"] += _upsert_pilot_task_rows(run, real_only, computed)
            counts["pilot_rows"] += _copy_pilot_rollups(run, copied, scope=Scope.PILOT_TASK)
            _sweep_pilot_rollups(run, real_only)
        # From here on the run reads other pilots' rows: one run at a time per programme, so that none
        # overwrites an area figure with one computed before another run's pilot rows were committed.
        list(CompletionSettings.objects.select_for_update().filter(pk=rules.pk))
        for real_only, included, _computed, _copied in variants:
            counts["area_rows"] += _upsert_area_rows(run, real_only)
            counts["rate_rows"] += _upsert_rates(run, real_only, included)
    return dict(counts)


def _tune_session(run: _Run) -> None:
    """A full run on PostgreSQL sorts a few hundred thousand reports: let it sort in memory, uncompiled."""
    if run.full and connection.vendor == "postgresql":
        _execute("SET LOCAL work_mem = '64MB'", {})
        _execute("SET LOCAL jit = off", {})  # compiling each statement costs more than it saves here


def _refresh_statistics(run: _Run, model) -> None:
    """After a full run has written a table, tell PostgreSQL's planner how big it now is.

    The later statements of the run join the rows it has just written; planned with the statistics
    from before (no rows for this date) they would take nested loops over tens of thousands of rows.
    ANALYZE sees this transaction's own rows and samples a bounded number of them.
    """
    if run.full and connection.vendor == "postgresql":
        _execute(f"ANALYZE {_table(model)}", {})


# --- SQL helpers ------------------------------------------------------------------------------

def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _ids(ids) -> str:
    return ", ".join(str(int(pk)) for pk in sorted(ids))


def _days(later: str, earlier: str) -> str:
    """SQL for the number of days from ``earlier`` to ``later`` (two date expressions)."""
    if connection.vendor == "sqlite":
        return f"(julianday({later}) - julianday({earlier}))"
    return f"({later} - {earlier})"


def _number(value: Decimal):
    # SQLite's adapter turns a Decimal into text, which never compares equal or less than a number.
    return float(value) if connection.vendor == "sqlite" else value


def _weighted_mean(value: str, weight: str) -> str:
    """SQL aggregate: the mean of ``value`` weighted by ``weight``, over rows where it is not null, rounded."""
    weights = f"SUM(CASE WHEN {value} IS NOT NULL THEN {weight} END)"
    return (f"ROUND(CASE WHEN {weights} > 0 THEN SUM({weight} * {value}) * 1.0 / {weights} "
            f"ELSE AVG({value}) END, 2)")


def _status(variance: str) -> str:
    """SQL for the schedule status of a variance; the thresholds are the parameters ahead/behind/critical."""
    return (f"CASE WHEN {variance} IS NULL THEN NULL WHEN {variance} > %(ahead)s THEN 'ahead' "
            f"WHEN {variance} < %(critical)s THEN 'critical' WHEN {variance} < %(behind)s THEN 'behind' "
            f"ELSE 'on_track' END")


def _flag_count(condition: str) -> str:
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def _params(run: _Run, real_only: bool, **extra) -> dict:
    ops = connection.ops
    return {
        "programme": run.programme.pk, "as_of": ops.adapt_datefield_value(run.as_of), "real_only": real_only,
        "cutoff": ops.adapt_datetimefield_value(run.cutoff), "run_at": ops.adapt_datetimefield_value(run.run_at),
        "ahead": _number(run.rules.ahead_above), "behind": _number(run.rules.behind_below),
        "critical": _number(run.rules.critical_below), **extra,
    }


def _execute(sql: str, params: dict) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def _fetch(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


_ROLLUP_COLUMNS = (
    "programme_id", "scope", "scope_id", "as_of", "real_only", "task_id",
    "completion", "planned", "variance", "schedule_status", "pilot_count", "demo_pilot_count", "no_report_count",
    "behind_count", "critical_count", "stalled_count", "ahead_of_plan_count", "includes_demo", "pilot_state",
    "projected_completion_date", "forecast_status", "projected_complete_count", "designated_count", "accepted_count", "goal",
    "computed_at", "pilot_id", "prefecture_id", "department_id",
    "designated_demo_count", "accepted_demo_count",  # province scope only
)
_ROLLUP_KEY = ("programme_id", "scope", "scope_id", "as_of", "real_only")
_ROLLUP_INSERT = f"INSERT INTO {{table}} ({', '.join(_ROLLUP_COLUMNS)})"


def _rollup_insert() -> str:
    return _ROLLUP_INSERT.format(table=_table(CompletionRollup))


def _rollup_conflict(*, with_task: bool) -> str:
    """The upsert clause of a rollup; a row about a task is keyed by its task as well (a partial unique index)."""
    key = _ROLLUP_KEY + (("task_id",) if with_task else ())
    updates = ", ".join(f"{column} = excluded.{column}" for column in _ROLLUP_COLUMNS if column not in key)
    return (f"ON CONFLICT ({', '.join(key)}) WHERE task_id IS {'NOT ' if with_task else ''}NULL "
            f"DO UPDATE SET {updates}")


def _upsert_rollup_values(rows: list[tuple]) -> int:
    """Insert or update rollup rows about no task, given as tuples in _ROLLUP_COLUMNS order."""
    placeholders = "(" + ", ".join(["%s"] * len(_ROLLUP_COLUMNS)) + ")"
    for start in range(0, len(rows), 500):
        batch = rows[start:start + 500]
        with connection.cursor() as cursor:
            cursor.execute(f"{_rollup_insert()} VALUES {', '.join([placeholders] * len(batch))} "
                           f"{_rollup_conflict(with_task=False)}", [value for row in batch for value in row])
    return len(rows)


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


# --- Reporting rates --------------------------------------------------------------------------

def _upsert_rates(run: _Run, real_only: bool, included: dict[int, PilotAsOf]) -> int:
    """Reports expected and received per quarter, per prefecture and province-wide, and how many on time."""
    counted = [p for p in included.values()
               if p.counted and (run.full or p.prefecture_id == run.pilot.prefecture_id)]
    current = Period.containing(run.as_of)
    expected: Counter[tuple[int, Period]] = Counter()
    for pilot in counted:
        for period in periods_between(pilot.construction_start, min(pilot.construction_end, current.end)):
            expected[(pilot.prefecture_id, period)] += run.subtask_count
    periods = sorted({period for _prefecture, period in expected})
    deadlines = {period: period.deadline(run.programme.report_due_days).date for period in periods}
    if run.received is None:  # the first variant, with every pilot: its counts serve both variants
        run.received = _received(run, counted, periods, deadlines) if periods else {}
    received: Counter[tuple[int, str, int]] = Counter()
    for (prefecture_id, period, demo), (got, on_time) in run.received.items():
        if not (real_only and demo):
            received[(prefecture_id, period, 0)] += got
            received[(prefecture_id, period, 1)] += on_time
    rows = []
    for (prefecture_id, period), count in sorted(expected.items()):
        got, on_time = received[(prefecture_id, str(period), 0)], received[(prefecture_id, str(period), 1)]
        rows.append(ReportingRate(
            programme=run.programme, period=str(period), period_start=period.start, deadline=deadlines[period],
            scope=ReportingRate.Scope.PREFECTURE, scope_id=prefecture_id, prefecture_id=prefecture_id,
            as_of=run.as_of, real_only=real_only, expected=count, received=got, on_time=on_time,
            computed_at=run.run_at,
        ))
    written = _upsert_rate_rows(rows)
    mine = Q(scope=ReportingRate.Scope.PREFECTURE)
    if not run.full:
        mine &= Q(scope_id=run.pilot.prefecture_id)
    ReportingRate.objects.filter(mine, _stale(run, real_only), programme=run.programme).delete()

    # The province: the sum of the prefectures' rows as they now stand.
    totals = (
        ReportingRate.objects.filter(programme=run.programme, scope=ReportingRate.Scope.PREFECTURE,
                                     as_of=run.as_of, real_only=real_only)
        .values("period").annotate(period_start=Min("period_start"), deadline=Max("deadline"),
                                   expected=Sum("expected"), received=Sum("received"), on_time=Sum("on_time"))
        .order_by("period")
    )
    written += _upsert_rate_rows([
        ReportingRate(
            programme=run.programme, period=row["period"], period_start=row["period_start"],
            deadline=row["deadline"], scope=ReportingRate.Scope.PROVINCE, scope_id=run.programme.pk,
            prefecture=None, as_of=run.as_of, real_only=real_only, expected=row["expected"],
            received=row["received"], on_time=row["on_time"], computed_at=run.run_at,
        )
        for row in totals
    ])
    ReportingRate.objects.filter(_stale(run, real_only), programme=run.programme,
                                 scope=ReportingRate.Scope.PROVINCE).delete()
    return written


def _received(run: _Run, counted: list[PilotAsOf], periods: list[Period], deadlines: dict[Period, dt.date]
              ) -> dict[tuple[int, str, bool], tuple[int, int]]:
    """Per prefecture, quarter and demo or not: reports first submitted by the as-of date, and by the deadline.

    A report's first submission is its first ``submit`` transition, or (rows loaded without a
    workflow history) the ``submitted_at`` of revision 1.
    """
    zone = ZoneInfo(settings.TIME_ZONE)
    params = _params(run, False)
    whens = []
    for number, period in enumerate(periods):
        params[f"period_{number}"] = str(period)
        due_end = dt.datetime.combine(deadlines[period] + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
        params[f"due_{number}"] = connection.ops.adapt_datetimefield_value(due_end)
        whens.append(f"WHEN %(period_{number})s THEN %(due_{number})s")
    in_periods = ", ".join(f"%(period_{number})s" for number in range(len(periods)))
    due = f"CASE r.period {' '.join(whens)} END"
    # submitted_at is the latest submission of revision 1, so the first one is no later: when
    # submitted_at is already before both the deadline and the cutoff, the history need not be read.
    rows = _fetch(f"""
        SELECT p.prefecture_id, x.period, CASE WHEN x.is_demo OR p.is_demo THEN 1 ELSE 0 END AS demo,
               {_flag_count('x.first_at < %(cutoff)s')} AS received,
               {_flag_count('x.first_at < %(cutoff)s AND x.first_at < x.due')} AS on_time
        FROM (
            SELECT r.pilot_id, r.period, r.is_demo, {due} AS due,
                   CASE WHEN r.submitted_at < %(cutoff)s AND r.submitted_at < {due} THEN r.submitted_at
                        ELSE COALESCE((SELECT MIN(t.at) FROM {_table(ReportTransition)} t
                                       WHERE t.report_id = r.id
                                         AND t.action = '{ReportTransition.Action.SUBMIT.value}'),
                                      r.submitted_at)
                   END AS first_at
            FROM {_table(ProgressReport)} r
            JOIN {_table(SubTask)} st ON st.id = r.subtask_id
            JOIN {_table(Task)} tk ON tk.id = st.task_id
            WHERE r.revision = 1 AND r.pilot_id IN ({_ids(p.pilot_id for p in counted)})
              AND r.period IN ({in_periods}) AND tk.programme_id = %(programme)s
        ) x
        JOIN {_table(Pilot)} p ON p.id = x.pilot_id
        GROUP BY p.prefecture_id, x.period, CASE WHEN x.is_demo OR p.is_demo THEN 1 ELSE 0 END""", params)
    return {(prefecture_id, period, bool(demo)): (int(got), int(on_time))
            for prefecture_id, period, demo, got, on_time in rows}


def _upsert_rate_rows(rows: list[ReportingRate]) -> int:
    ReportingRate.objects.bulk_create(
        rows, update_conflicts=True,
        unique_fields=["programme", "scope", "scope_id", "period", "as_of", "real_only"],
        update_fields=["period_start", "deadline", "prefecture", "expected", "received", "on_time", "computed_at"],
    )
    return len(rows)


# --- Stale rows -------------------------------------------------------------------------------

def _stale(run: _Run, real_only: bool) -> Q:
    """Rows of this date and variant that this run did not write (a pilot no longer designated, …)."""
    return Q(as_of=run.as_of, real_only=real_only, computed_at__lt=run.run_at)


def _sweep_subtask_rows(run: _Run, real_only: bool) -> None:
    mine = Q(pilot__programme=run.programme) if run.full else Q(pilot=run.pilot)
    SubtaskCompletion.objects.filter(mine, _stale(run, real_only)).delete()


def _sweep_pilot_rollups(run: _Run, real_only: bool) -> None:
    mine = Q() if run.full else Q(pilot=run.pilot)
    CompletionRollup.objects.filter(mine, _stale(run, real_only), programme=run.programme,
                                    scope__in=[Scope.PILOT, Scope.PILOT_TASK]).delete()
