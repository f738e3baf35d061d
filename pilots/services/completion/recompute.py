"""One recompute: which pilots count on the date, then the tables written in order (``_recompute``)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, Sum, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from pilots.models import (
    CompletionRollup,
    CompletionSettings,
    Pilot,
    PilotStateChange,
    SubtaskCompletion,
)
from pilots.services.completion.rates import _upsert_rates
from pilots.services.completion.rollups import _upsert_area_rows, _upsert_pilot_rows, _upsert_pilot_task_rows
from pilots.services.completion.run import PilotAsOf, Scope, _Run, _stale
from pilots.services.completion.sql import _execute, _table
from pilots.services.completion.subtasks import (
    _copy_pilot_rollups,
    _copy_subtask_rows,
    _pilots_with_demo_content,
    _upsert_subtask_rows,
)
from pilots.services.webhooks import CompletionWatch
from tasks_app.models import Programme, SubTask


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
        # Before anything is written: the figures that completion.changed compares with.
        watch = CompletionWatch(programme_id=programme.pk, as_of=as_of, pilot_id=None if run.full else pilot.pk)
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
        watch.emit()
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



def _sweep_subtask_rows(run: _Run, real_only: bool) -> None:
    mine = Q(pilot__programme=run.programme) if run.full else Q(pilot=run.pilot)
    SubtaskCompletion.objects.filter(mine, _stale(run, real_only)).delete()


def _sweep_pilot_rollups(run: _Run, real_only: bool) -> None:
    mine = Q() if run.full else Q(pilot=run.pilot)
    CompletionRollup.objects.filter(mine, _stale(run, real_only), programme=run.programme,
                                    scope__in=[Scope.PILOT, Scope.PILOT_TASK]).delete()
