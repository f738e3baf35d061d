"""The benchmark's data generator: a national-scale programme (code ``bench``), kept apart from the real one.

Every row belongs to the ``bench`` programme (its pilots, plans, reports) or to the bench prefectures
(codes 9xxx00, names starting "Bench"), so ``bench_reset`` deletes exactly what an earlier run wrote.
Reports are written in bulk (PostgreSQL: COPY; elsewhere: large ``bulk_create`` batches) rather than
through the report services; see BENCHMARKS.md. ``manage.py benchmark_generate`` is its command.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from pilots.models import (
    Membership,
    Milestone,
    Organisation,
    Pilot,
    PlanItem,
    Prefecture,
    ProgressReport,
    Reminder,
    ReportTransition,
)
from pilots.periods import Period
from smartcity.models.audit import AuditEntry
from tasks_app.models import Pillar, Programme, SubTask, Task

BENCH_CODE = "bench"
START = dt.date(2021, 1, 1)
SUBTASKS_PER_TASK = (3, 3, 2, 3, 2, 2, 2)  # 7 tasks, 17 sub-tasks, like the real catalog
State = ProgressReport.State
Action = ReportTransition.Action


def bench_periods(quarters: int) -> list[Period]:
    periods = [Period.containing(START)]
    while len(periods) < quarters + 1:
        periods.append(periods[-1].next())
    return periods  # the last one is never reported: the reminders have something to chase


def bench_percent(pilot_index: int, subtask_index: int, quarter: int, quarters: int) -> Decimal:
    pace = 0.6 + 0.5 * (((pilot_index * 7 + subtask_index * 3) % 11) / 10)
    value = min(100.0, 100.0 * (quarter + 1) / (quarters + 1) * pace)
    return Decimal(str(round(value, 1)))


def has_second_revision(pilot_index: int, subtask_index: int, quarter: int) -> bool:
    return (pilot_index * 17 + subtask_index * 13 + quarter) % 10 == 0


@transaction.atomic
def bench_reset() -> dict[str, int]:
    programme = Programme.objects.filter(code=BENCH_CODE).first()
    deleted = {}
    if programme is not None:
        pilots = Pilot.objects.filter(programme=programme)
        report_ids = ProgressReport.objects.filter(pilot__programme=programme).values("id")
        # Audit entries are append-only (a trigger refuses DELETE): an earlier run's entries stay.
        deleted["reminders"], _ = Reminder.objects.filter(pilot__programme=programme).delete()
        deleted["transitions"] = ReportTransition.objects.filter(report__in=report_ids)._raw_delete(connection.alias)
        deleted["reports"] = ProgressReport.objects.filter(pilot__programme=programme)._raw_delete(connection.alias)
        pilots_deleted, _ = pilots.delete()
        deleted["pilots_cascade"] = pilots_deleted
        SubTask.objects.filter(task__programme=programme).delete()
        Task.objects.filter(programme=programme).delete()
        Pillar.objects.filter(programme=programme).delete()
        Programme.objects.filter(pk=programme.pk).delete()
    # The benchmark's reporter accounts stay (audit rows may name them); their memberships go.
    Membership.objects.filter(organisation__code__startswith="bench-pref-").delete()
    Organisation.objects.filter(code__startswith="bench-pref-").delete()
    deleted["prefectures"], _ = Prefecture.objects.filter(code__startswith="9", name_en__startswith="Bench").delete()
    return deleted


class _Writer:
    """Bulk insert with explicit ids: COPY on PostgreSQL, bulk_create elsewhere."""

    def __init__(self):
        self.counts: dict[str, int] = {}
        self.next_ids: dict[type, int] = {}

    def next_id(self, model) -> int:
        if model not in self.next_ids:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {model._meta.db_table}")
                self.next_ids[model] = cursor.fetchone()[0] + 1
        value = self.next_ids[model]
        self.next_ids[model] += 1
        return value

    def write(self, model, rows: list[dict]) -> None:
        if not rows:
            return
        names = list(rows[0])
        if connection.vendor == "postgresql":
            columns = ", ".join(connection.ops.quote_name(model._meta.get_field(n).column) for n in names)
            with connection.cursor() as cursor:
                with cursor.cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row([row[n] for n in names])
        else:
            model.objects.bulk_create([model(**row) for row in rows], batch_size=2000)
        self.counts[model._meta.model_name] = self.counts.get(model._meta.model_name, 0) + len(rows)

    def fix_sequences(self) -> None:
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            for model in self.next_ids:
                table = model._meta.db_table
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT COALESCE(MAX(id), 1) FROM {table}))")

    def analyze(self) -> None:
        """Planner statistics for the tables just loaded: autovacuum would take a while to notice them,
        and until it does, every query over them is planned as if they were empty."""
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            for model in [*self.next_ids, Pilot, Prefecture, Task, SubTask]:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def benchmark_generate(*, prefectures: int, pilots: int, quarters: int, out=None) -> dict[str, int]:
    if prefectures < 1 or prefectures > 999 or pilots < prefectures or pilots > prefectures * 99 or quarters < 1:
        raise CommandError("Need 1 ≤ prefectures ≤ 999, prefectures ≤ pilots ≤ 99 × prefectures, quarters ≥ 1.")
    if Programme.objects.filter(code=BENCH_CODE).exists():
        raise CommandError("The bench programme exists already: pass --reset.")
    periods = bench_periods(quarters)
    window_end = periods[-1].end
    now = timezone.now()
    writer = _Writer()
    with transaction.atomic():
        programme = Programme.objects.create(
            code=BENCH_CODE, document_number="BENCH", title_zh="基准测试数据(非真实)", title_en="Benchmark data (not real)",
            goal_pilot_count=pilots, goal_deadline=window_end, source_note="benchmark_generate",
        )
        subtasks = []
        for t, count in enumerate(SUBTASKS_PER_TASK, start=1):
            pillar = Pillar.objects.create(programme=programme, code=f"P{t}", kind=Pillar.Kind.values[0], order=t,
                                           name_zh=f"基准支柱{t}", name_en=f"Bench pillar {t}")
            task = Task.objects.create(programme=programme, pillar=pillar, code=f"T{t}", order=t,
                                       name_zh=f"基准任务{t}", name_en=f"Bench task {t}")
            for s in range(1, count + 1):
                subtasks.append(SubTask.objects.create(
                    task=task, code=f"T{t}.{s}", order=s, weight=Decimal(1 + (len(subtasks) % 3)),
                    name_zh=f"基准子任务{t}.{s}", name_en=f"Bench sub-task {t}.{s}"))
        prefecture_rows = Prefecture.objects.bulk_create([
            Prefecture(code=f"9{i:03d}00", name_zh=f"基准市{i}", name_en=f"Bench prefecture {i}")
            for i in range(prefectures)
        ])
        Organisation.objects.bulk_create([
            Organisation(code=f"bench-pref-{p.code}", kind=Organisation.Kind.PREFECTURE, prefecture=p,
                         name_zh=f"{p.name_zh}办公室", name_en=f"{p.name_en} office",
                         contact_email=f"office-{p.code}@bench.invalid")
            for p in prefecture_rows
        ])
        pilot_rows = []
        for index in range(pilots):
            prefecture = prefecture_rows[index % prefectures]
            number = index // prefectures + 1
            pilot_rows.append(Pilot(
                programme=programme, prefecture=prefecture, code=f"{prefecture.code[:4]}{number:02d}",
                name_zh=f"基准试点{index}", name_en=f"Bench pilot {index}", batch_year=START.year,
                designated_on=START, construction_start=START, construction_end=window_end,
                source_note="benchmark_generate",
            ))
        pilot_rows = Pilot.objects.bulk_create(pilot_rows, batch_size=2000)
        chunk = 100
        for first in range(0, pilots, chunk):
            _write_pilots(writer, list(enumerate(pilot_rows))[first:first + chunk], subtasks, periods[:-1], now)
        writer.fix_sequences()
        writer.analyze()
    counts = {"prefectures": prefectures, "pilots": pilots, "subtasks": len(subtasks), **writer.counts}
    return counts


def _noon(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12, 0)))


def _write_pilots(writer: _Writer, pilots, subtasks, periods, now) -> None:
    plan_items, milestones, reports, transitions, audit = [], [], [], [], []
    quarters = len(periods)
    for pilot_index, pilot in pilots:
        span = (pilot.construction_end - pilot.construction_start).days
        for s_index, subtask in enumerate(subtasks):
            item_id = writer.next_id(PlanItem)
            plan_items.append({
                "id": item_id, "pilot_id": pilot.pk, "subtask_id": subtask.pk, "description": "基准测试计划", "kpi_name": "",
                "kpi_unit": "", "kpi_target": None, "planned_investment": None, "responsible_unit": "", "is_demo": False,
                "created_at": now, "updated_at": now, "version": 1})
            for share, target in ((1 / 3, Decimal(30)), (2 / 3, Decimal(65)), (1.0, Decimal(100))):
                milestones.append({
                    "id": writer.next_id(Milestone), "plan_item_id": item_id, "title": f"{target}%",
                    "due_on": pilot.construction_start + dt.timedelta(days=round(span * share)), "target_percent": target,
                    "created_at": now, "updated_at": now, "version": 1})
            for q, period in enumerate(periods):
                percent = bench_percent(pilot_index, s_index, q, quarters)
                last = q == quarters - 1
                submitted = _noon(period.end + dt.timedelta(days=5))
                pending = last and pilot_index % 5 == 0
                reviewed = None if pending else submitted + dt.timedelta(days=4)
                second = has_second_revision(pilot_index, s_index, q) and not pending
                revisions = [(1, percent, not second, State.SUBMITTED if pending else State.APPROVED, submitted,
                              reviewed, "")]
                if second:
                    corrected = max(Decimal(0), percent - Decimal("0.5"))
                    at = submitted + dt.timedelta(days=30)
                    revisions.append((2, corrected, True, State.APPROVED, at, at + dt.timedelta(days=3),
                                      "基准测试更正"))
                for revision, value, current, state, sub_at, rev_at, reason in revisions:
                    report_id = writer.next_id(ProgressReport)
                    reports.append({
                        "id": report_id, "pilot_id": pilot.pk, "subtask_id": subtask.pk, "period": str(period),
                        "period_start": period.start, "revision": revision, "is_current": current, "state": state,
                        "percent_complete": value,
                        "status": ProgressReport.Status.COMPLETED if value == 100 else ProgressReport.Status.ON_TRACK,
                        "narrative": "", "kpi_actual": None, "investment_to_date": None,
                        "decrease_reason": reason, "correction_reason": reason, "review_comment": "", "created_by_id": None,
                        "created_at": sub_at - dt.timedelta(days=1), "updated_at": rev_at or sub_at, "submitted_at": sub_at,
                        "reviewed_at": rev_at, "reviewed_by_id": None, "receipt_hash": "", "is_demo": False, "version": 1})
                    steps = [(Action.CORRECT if revision == 2 else Action.CREATE, "", State.DRAFT,
                              sub_at - dt.timedelta(days=1)),
                             (Action.SUBMIT, State.DRAFT, State.SUBMITTED, sub_at)]
                    if rev_at is not None:
                        steps.append((Action.APPROVE, State.SUBMITTED, State.APPROVED, rev_at))
                    for action, before, after, at in steps:
                        transitions.append({"id": writer.next_id(ReportTransition), "report_id": report_id,
                                                "action": action, "from_state": before, "to_state": after, "actor_id": None,
                                                "at": at, "comment": ""})
                    audit.append({
                        "id": writer.next_id(AuditEntry), "at": sub_at, "actor_id": None, "actor_username": "benchmark",
                        "via": AuditEntry.Via.values[0], "token_prefix": "", "request_id": "", "action": "report.submit",
                        "object_type": "pilots.progressreport", "object_id": str(report_id),
                        "object_repr": f"bench {pilot.code} {subtask.code} {period} r{revision}",
                        "before": None, "after": None})
    writer.write(PlanItem, plan_items)
    writer.write(Milestone, milestones)
    writer.write(ProgressReport, reports)
    writer.write(ReportTransition, transitions)
    writer.write(AuditEntry, audit)
