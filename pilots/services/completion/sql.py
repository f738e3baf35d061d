"""SQL helpers of the completion engine: quoting, weighted means, statuses, the rollup upsert."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection

from pilots.models import (
    CompletionRollup,
)
from pilots.services.completion.run import _Run

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
