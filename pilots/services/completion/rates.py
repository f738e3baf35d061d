"""Reporting rates: reports expected, received and on time per quarter, per prefecture and province-wide."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Max, Min, Q, Sum

from pilots.models import (
    Pilot,
    ProgressReport,
    ReportingRate,
    ReportTransition,
)
from pilots.periods import Period, periods_between
from pilots.services.completion.run import PilotAsOf, _Run, _stale
from pilots.services.completion.sql import _fetch, _flag_count, _ids, _params, _table
from tasks_app.models import SubTask, Task

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
