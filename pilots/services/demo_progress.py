"""Demo progress: plans, milestones and quarterly reports that make a newcomer's first run look real.

Every row written here is flagged ``is_demo`` (plan items and reports alike, on real pilots too:
the pilots of the 2020 batch are fact, their progress here is invented). The figures come from a
deterministic generator, so two runs on two laptops show the same dashboard. Rows are inserted in
bulk rather than through the report services because thousands of them are made at once; they are
built to satisfy the same rules (``report_rules_check``), which a test checks row by row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone

from pilots.models import Milestone, Pilot, PlanItem, ProgressReport, ReportTransition
from pilots.periods import Period, periods_between
from pilots.services.completion import completion_recompute_all
from pilots.services.reports import receipt_issue
from tasks_app.models import Programme, SubTask

State = ProgressReport.State
Status = ProgressReport.Status
Action = ReportTransition.Action
ONE_PLACE = Decimal("0.1")


def _unit(*parts) -> float:
    """A stable pseudo-random number in [0, 1) for the given parts."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def planned_percent(pilot: Pilot, day: dt.date) -> Decimal:
    """The demo plan: linear from 0 at construction start to 100 at construction end."""
    span = (pilot.construction_end - pilot.construction_start).days or 1
    elapsed = min(max((day - pilot.construction_start).days, 0), span)
    return (Decimal(100) * elapsed / span).quantize(ONE_PLACE, ROUND_HALF_UP)


def demo_progress_ensure(*, today: dt.date | None = None) -> dict[str, int]:
    """Give every pilot with no plan and no reports a demo plan, milestones and reports up to ``today``."""
    today = today or timezone.localdate()
    counts = {"plan_items": 0, "milestones": 0, "reports": 0}
    pilots = Pilot.objects.exclude(state=Pilot.State.REVOKED).filter(plan_items__isnull=True, reports__isnull=True)
    with transaction.atomic():
        for pilot in pilots.select_related("programme"):
            subtasks = list(SubTask.objects.filter(task__programme=pilot.programme).order_by("task__order", "order"))
            plan_items = PlanItem.objects.bulk_create([_plan_item(pilot, subtask) for subtask in subtasks])
            milestones = Milestone.objects.bulk_create(
                [m for item in plan_items for m in _milestones(pilot, item)]
            )
            reports = _reports(pilot, subtasks, today)
            ProgressReport.objects.bulk_create(reports)
            _receipts_and_transitions(reports)
            counts["plan_items"] += len(plan_items)
            counts["milestones"] += len(milestones)
            counts["reports"] += len(reports)
    return counts


def _plan_item(pilot: Pilot, subtask: SubTask) -> PlanItem:
    return PlanItem(
        pilot=pilot, subtask=subtask, is_demo=True,
        description=f"(演示){pilot.name_zh}推进“{subtask.name_zh}”的建设计划。",
        kpi_name="建设内容完成率", kpi_unit="%", kpi_target=Decimal("100"),
        planned_investment=Decimal(200 + int(_unit(pilot.code, subtask.code, "invest") * 1800)),
        responsible_unit=f"{pilot.name_zh}大数据中心(演示)",
    )


def _milestones(pilot: Pilot, item: PlanItem) -> list[Milestone]:
    span = pilot.construction_end - pilot.construction_start
    points = ((Decimal("30"), 1 / 3, "完成方案设计与招标"), (Decimal("65"), 2 / 3, "主体建设完成"),
              (Decimal("100"), 1.0, "通过验收"))
    return [
        Milestone(plan_item=item, title=f"(演示){title}", target_percent=target,
                  due_on=pilot.construction_start + dt.timedelta(days=round(span.days * share)))
        for target, share, title in points
    ]


def _reports(pilot: Pilot, subtasks: list[SubTask], today: dt.date) -> list[ProgressReport]:
    last_period = Period.containing(today).previous()  # the current quarter is still under way
    periods = [p for p in periods_between(pilot.construction_start, pilot.construction_end) if p <= last_period]
    pilot_pace = 0.7 + 0.45 * _unit(pilot.code, "pace")  # some pilots run behind their plan
    reports = []
    for subtask in subtasks:
        pace = pilot_pace * (0.85 + 0.3 * _unit(pilot.code, subtask.code, "pace"))
        previous = Decimal(0)
        for index, period in enumerate(periods):
            is_last = index == len(periods) - 1
            roll = _unit(pilot.code, subtask.code, str(period))
            if is_last and roll < 0.12:
                break  # this office forgot its latest report: the reminders have something to chase
            plan = planned_percent(pilot, period.end)
            percent = max(previous, min(Decimal(100), (plan * Decimal(pace)).quantize(ONE_PLACE, ROUND_HALF_UP)))
            gap = plan - percent
            if percent == 100:
                status = Status.COMPLETED
            elif percent == 0:
                status = Status.NOT_STARTED
            elif gap > 20:
                status = Status.DELAYED
            elif gap > 10:
                status = Status.AT_RISK
            else:
                status = Status.ON_TRACK
            narrative = "(演示)按计划推进。"
            if status in (Status.DELAYED, Status.AT_RISK):
                narrative = "(演示)受资金拨付和供应商交付影响,进度滞后于计划,已调整实施安排。"
            state = State.APPROVED
            if is_last:
                state = State.SUBMITTED if roll < 0.45 else State.APPROVED
            submitted_at = _local_noon(period.end + dt.timedelta(days=3 + int(roll * 10)))
            reports.append(ProgressReport(
                pilot=pilot, subtask=subtask, period=str(period), period_start=period.start, revision=1,
                is_current=True, state=state, percent_complete=percent, status=status, narrative=narrative,
                kpi_actual=percent, investment_to_date=None, is_demo=True, submitted_at=submitted_at,
                reviewed_at=submitted_at + dt.timedelta(days=4) if state == State.APPROVED else None,
            ))
            previous = percent
    return reports


def _receipts_and_transitions(reports: list[ProgressReport]) -> None:
    transitions = []
    for report in reports:
        report.receipt_hash = receipt_issue(report, report.submitted_at).sha256
        created_at = report.submitted_at - dt.timedelta(days=1)
        transitions.append(ReportTransition(report=report, action=Action.CREATE, to_state=State.DRAFT, at=created_at))
        transitions.append(ReportTransition(report=report, action=Action.SUBMIT, from_state=State.DRAFT,
                                            to_state=State.SUBMITTED, at=report.submitted_at))
        if report.state == State.APPROVED:
            transitions.append(ReportTransition(report=report, action=Action.APPROVE, from_state=State.SUBMITTED,
                                                to_state=State.APPROVED, at=report.reviewed_at))
    ProgressReport.objects.bulk_update(reports, ["receipt_hash"], batch_size=500)
    ReportTransition.objects.bulk_create(transitions, batch_size=1000)


def _local_noon(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12, 0)))


def demo_completion_history(*, today: dt.date | None = None) -> dict[str, int]:
    """Compute the completion snapshots a first run shows: each quarter end up to the programme
    deadline, each year end after it, and today — so the dashboard has a history before the first
    nightly job. Idempotent (the recompute upserts)."""
    today = today or timezone.localdate()
    # The deadline of the programmes the pilots are in: a later programme loaded only as a catalog (the 2024
    # guideline, due 2027) has no demo pilots and no history to show.
    deadline = max(Programme.objects.filter(pilots__isnull=False).distinct().values_list("goal_deadline", flat=True),
                   default=today)
    first = Pilot.objects.order_by("designated_on").values_list("designated_on", flat=True).first() or today
    dates = {period.end for period in periods_between(first, min(deadline, today)) if period.end <= today}
    dates |= {dt.date(year, 12, 31) for year in range(deadline.year + 1, today.year)}
    dates.add(today)
    for as_of in sorted(dates):
        completion_recompute_all(as_of=as_of)
    return {"snapshot_dates": len(dates)}
