"""The completion engine (pilots.services.completion), against figures computed by hand."""

from __future__ import annotations

import datetime as dt
import math
import threading
from decimal import Decimal
from fractions import Fraction

import pytest
from django.core.management import call_command
from django.db import connection, connections
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from pilots.models import (
    CompletionRollup,
    CompletionSettings,
    Pilot,
    PlanItem,
    ProgressReport,
    ReportingRate,
    ReportTransition,
    SubtaskCompletion,
)
from pilots.services.completion import (
    FORECAST_HORIZON_YEARS,
    Forecast,
    completion_recompute_all,
    completion_recompute_pilot,
    forecast_completion,
    forecast_completion_date,
)
from tests.completion_helpers import SHANGHAI, at, designate, plan, report
from tests.factories import (
    DepartmentFactory,
    PilotFactory,
    PrefectureFactory,
    ProgrammeFactory,
    SubTaskDepartmentFactory,
    SubTaskFactory,
    TaskFactory,
)

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2021, 10, 15)
Scope = CompletionRollup.Scope
State = ProgressReport.State


@pytest.fixture
def world():
    programme = ProgrammeFactory(goal_pilot_count=4, goal_deadline=dt.date(2022, 12, 31), report_due_days=10)
    task = TaskFactory(programme=programme, code="T1")
    light = SubTaskFactory(task=task, code="T1.1", weight=Decimal(1))
    heavy = SubTaskFactory(task=task, code="T1.2", weight=Decimal(3))
    chengdu = PrefectureFactory(code="510100")
    luzhou = PrefectureFactory(code="510500")

    def pilot(code, prefecture, **kwargs):
        kwargs.setdefault("construction_start", dt.date(2021, 1, 1))
        kwargs.setdefault("construction_end", dt.date(2022, 12, 31))
        return PilotFactory(programme=programme, prefecture=prefecture, code=code, **kwargs)

    return {
        "programme": programme, "task": task, "light": light, "heavy": heavy, "chengdu": chengdu, "luzhou": luzhou,
        "a1": pilot("510108", chengdu), "a2": pilot("510104", chengdu), "b1": pilot("510502", luzhou),
        "pilot": pilot,
    }


def sub(pilot, subtask, as_of=AS_OF, real_only=False):
    return SubtaskCompletion.objects.get(pilot=pilot, subtask=subtask, as_of=as_of, real_only=real_only)


def rollup(scope, scope_id, as_of=AS_OF, real_only=False, task=None):
    rows = CompletionRollup.objects.filter(scope=scope, scope_id=scope_id, as_of=as_of, real_only=real_only)
    if scope in (Scope.PILOT_TASK,):
        rows = rows.filter(task=task)
    return rows.get()


def province(world, **kwargs):
    return rollup(Scope.PROVINCE, world["programme"].pk, **kwargs)


# --- Completion and its means -------------------------------------------------------------------

def test_a_pilot_is_the_weighted_mean_of_its_subtasks(world):
    report(world["a1"], world["light"], "2021Q3", "40")
    report(world["a1"], world["heavy"], "2021Q3", "80")

    completion_recompute_all(as_of=AS_OF)

    # (1 × 40 + 3 × 80) / (1 + 3) = 280 / 4 = 70
    assert rollup(Scope.PILOT, world["a1"].pk).completion == Decimal("70.00")
    assert rollup(Scope.PILOT_TASK, world["a1"].pk, task=world["task"]).completion == Decimal("70.00")
    assert sub(world["a1"], world["heavy"]).approved_percent == Decimal("80.00")
    assert sub(world["a1"], world["heavy"]).approved_period == "2021Q3"


def test_the_latest_approved_period_and_revision_count(world):
    report(world["a1"], world["light"], "2021Q2", "30")
    report(world["a1"], world["light"], "2021Q3", "40", is_current=False)
    report(world["a1"], world["light"], "2021Q3", "45", revision=2)  # an approved correction
    report(world["a1"], world["heavy"], "2021Q3", "50")
    report(world["a1"], world["heavy"], "2021Q2", "70")  # an older period never wins, whatever its figure

    completion_recompute_all(as_of=AS_OF)

    assert sub(world["a1"], world["light"]).approved_percent == Decimal("45.00")
    assert sub(world["a1"], world["heavy"]).approved_percent == Decimal("50.00")


def test_a_pending_figure_is_shown_beside_the_approved_one_and_never_counted(world):
    report(world["a1"], world["light"], "2021Q2", "40")
    report(world["a1"], world["light"], "2021Q3", "60", state=State.SUBMITTED)
    report(world["a1"], world["heavy"], "2021Q3", "40")

    completion_recompute_all(as_of=AS_OF)

    row = sub(world["a1"], world["light"])
    assert (row.approved_percent, row.approved_period) == (Decimal("40.00"), "2021Q2")
    assert (row.pending_percent, row.pending_period) == (Decimal("60.00"), "2021Q3")
    assert rollup(Scope.PILOT, world["a1"].pk).completion == Decimal("40.00")  # (40 + 3 × 40) / 4


def test_a_subtask_without_an_approved_report_counts_as_zero_and_is_flagged(world):
    report(world["a1"], world["light"], "2021Q3", "40")
    report(world["a1"], world["heavy"], "2021Q3", "90", state=State.RETURNED)  # returned: not approved

    completion_recompute_all(as_of=AS_OF)

    heavy = sub(world["a1"], world["heavy"])
    assert (heavy.approved_percent, heavy.no_report, heavy.approved_period) == (Decimal("0.00"), True, None)
    assert heavy.pending_percent is None  # returned before the as-of date: not pending either
    pilot = rollup(Scope.PILOT, world["a1"].pk)
    assert pilot.completion == Decimal("10.00")  # (1 × 40 + 3 × 0) / 4
    assert pilot.no_report_count == 1


def test_prefecture_and_province_are_unweighted_means_over_pilots_without_revoked_ones(world):
    report(world["a1"], world["light"], "2021Q3", "40")
    report(world["a1"], world["heavy"], "2021Q3", "80")  # a1 = 70
    report(world["a2"], world["light"], "2021Q3", "10")
    report(world["a2"], world["heavy"], "2021Q3", "10")  # a2 = 10
    report(world["b1"], world["light"], "2021Q3", "100")
    report(world["b1"], world["heavy"], "2021Q3", "100")  # b1 = 100, but revoked by the as-of date
    for pilot in ("a1", "a2", "b1"):
        designate(world[pilot])
    designate(world["b1"], Pilot.State.REVOKED, on=dt.date(2021, 9, 1))
    late = world["pilot"]("510503", world["luzhou"], designated_on=dt.date(2021, 11, 1))
    designate(late, on=dt.date(2021, 11, 1))  # not yet a pilot on the as-of date

    completion_recompute_all(as_of=AS_OF)

    assert rollup(Scope.PREFECTURE, world["chengdu"].pk).completion == Decimal("40.00")  # (70 + 10) / 2
    assert province(world).completion == Decimal("40.00")
    assert province(world).pilot_count == 2
    assert not CompletionRollup.objects.filter(scope=Scope.PREFECTURE, scope_id=world["luzhou"].pk).exists()
    revoked = rollup(Scope.PILOT, world["b1"].pk)
    assert (revoked.pilot_state, revoked.completion) == ("revoked", Decimal("100.00"))  # its own page still reads
    assert not SubtaskCompletion.objects.filter(pilot=late).exists()

    later = dt.date(2021, 11, 15)
    completion_recompute_all(as_of=later)
    assert province(world, as_of=later).pilot_count == 3  # the late pilot counts, with 0 everywhere
    assert province(world, as_of=later).completion == Decimal("26.67")  # (70 + 10 + 0) / 3


def test_a_task_and_a_department_are_means_over_pilots(world):
    second_task = TaskFactory(programme=world["programme"], code="T2")
    other = SubTaskFactory(task=second_task, code="T2.1", weight=Decimal(2))
    department = DepartmentFactory(code="dept-big-data")
    SubTaskDepartmentFactory(subtask=world["heavy"], department=department)
    SubTaskDepartmentFactory(subtask=other, department=department)
    report(world["a1"], world["heavy"], "2021Q3", "80")
    report(world["a1"], other, "2021Q3", "20")
    report(world["a2"], world["heavy"], "2021Q3", "40")

    completion_recompute_all(as_of=AS_OF)

    # T1 per pilot: a1 (0 + 3 × 80) / 4 = 60, a2 (0 + 3 × 40) / 4 = 30, b1 0 → (60 + 30 + 0) / 3 = 30
    assert rollup(Scope.TASK, world["task"].pk).completion == Decimal("30.00")
    assert rollup(Scope.TASK, second_task.pk).completion == Decimal("6.67")  # (20 + 0 + 0) / 3
    # The department leads T1.2 (weight 3) and T2.1 (weight 2):
    # a1 (3 × 80 + 2 × 20) / 5 = 56, a2 (3 × 40) / 5 = 24, b1 0 → 80 / 3
    assert rollup(Scope.DEPARTMENT, department.pk).completion == Decimal("26.67")
    # Overall a1: (1 × 0 + 3 × 80 + 2 × 20) / 6 = 46.67
    assert rollup(Scope.PILOT, world["a1"].pk).completion == Decimal("46.67")


# --- Schedule variance and flags ------------------------------------------------------------------

def test_variance_interpolates_between_milestones(world):
    plan(world["a1"], world["light"], (dt.date(2021, 6, 30), 30), (dt.date(2021, 12, 31), 80))
    report(world["a1"], world["light"], "2021Q3", "40")

    completion_recompute_all(as_of=AS_OF)

    # 2021-06-30 → 2021-10-15 is 107 days of the 184 to 2021-12-31: 30 + 50 × 107 / 184 = 59.076… → 59.08
    row = sub(world["a1"], world["light"])
    assert row.planned_percent == Decimal("59.08")
    assert row.variance == Decimal("-19.08")
    assert row.schedule_status == "behind"  # below −10, not below −25
    assert sub(world["a1"], world["heavy"]).planned_percent is None  # no plan, no variance
    assert sub(world["a1"], world["heavy"]).schedule_status is None


@pytest.mark.parametrize(("as_of", "planned"), [
    (dt.date(2020, 12, 1), "0.00"),  # before construction starts
    (dt.date(2021, 1, 1), "0.00"),  # the day construction starts
    (dt.date(2021, 4, 1), "15.00"),  # 0 on 2021-01-01 → 30 on 2021-06-30: 30 × 90 / 180
    (dt.date(2021, 6, 30), "30.00"),  # on a milestone
    (dt.date(2022, 3, 1), "80.00"),  # flat after the last milestone
])
def test_planned_percent_from_construction_start_through_the_last_milestone(world, as_of, planned):
    plan(world["a1"], world["light"], (dt.date(2021, 6, 30), 30), (dt.date(2021, 12, 31), 80))
    designate(world["a1"], on=dt.date(2020, 11, 1))

    completion_recompute_all(as_of=as_of)

    assert sub(world["a1"], world["light"], as_of=as_of).planned_percent == Decimal(planned)


@pytest.mark.parametrize(("as_of", "planned"), [
    (dt.date(2020, 12, 31), "0.00"),  # before the start, although a milestone is due on that day
    (dt.date(2021, 1, 1), "10.00"),  # a milestone due the day construction starts is the plan that day
    (dt.date(2021, 4, 1), "55.00"),  # 10 → 100 on 2021-06-30: 10 + 90 × 90 / 180
])
def test_a_milestone_due_on_the_first_day_of_construction_counts_that_day(world, as_of, planned):
    plan(world["a1"], world["light"], (dt.date(2021, 1, 1), 10), (dt.date(2021, 6, 30), 100))
    designate(world["a1"], on=dt.date(2020, 11, 1))

    completion_recompute_all(as_of=as_of)

    assert sub(world["a1"], world["light"], as_of=as_of).planned_percent == Decimal(planned)


def test_status_thresholds_come_from_the_editable_settings(world):
    plan(world["a1"], world["light"], (dt.date(2021, 6, 30), 30), (dt.date(2021, 12, 31), 80))
    report(world["a1"], world["light"], "2021Q3", "40")  # variance −19.08
    completion_recompute_all(as_of=AS_OF)
    settings = CompletionSettings.objects.get(programme=world["programme"])
    assert (settings.ahead_above, settings.behind_below, settings.critical_below, settings.stalled_periods,
            settings.ahead_of_plan_margin) == (5, -10, -25, 2, 30)

    settings.critical_below = Decimal(-15)
    settings.save()
    completion_recompute_all(as_of=AS_OF)

    assert sub(world["a1"], world["light"]).schedule_status == "critical"
    assert rollup(Scope.PILOT, world["a1"].pk).critical_count == 1


def test_stalled_needs_the_same_figure_for_stalled_periods_consecutive_quarters_after_the_first(world):
    for period in ("2021Q1", "2021Q2", "2021Q3"):
        report(world["a1"], world["light"], period, "50")  # unchanged for two quarters: stalled
        report(world["a1"], world["heavy"], period, "100")  # finished: never stalled
    report(world["a2"], world["light"], "2021Q2", "50")
    report(world["a2"], world["light"], "2021Q3", "50")  # unchanged for one quarter only
    report(world["b1"], world["light"], "2021Q1", "50")
    report(world["b1"], world["light"], "2021Q3", "50")  # a missing quarter breaks the run

    completion_recompute_all(as_of=AS_OF)

    assert sub(world["a1"], world["light"]).stalled is True
    assert sub(world["a1"], world["heavy"]).stalled is False
    assert sub(world["a2"], world["light"]).stalled is False
    assert sub(world["b1"], world["light"]).stalled is False
    assert province(world).stalled_count == 1


def test_an_approved_figure_far_above_plan_is_flagged(world):
    plan(world["a1"], world["light"], (dt.date(2021, 12, 31), 20))
    plan(world["a1"], world["heavy"], (dt.date(2021, 12, 31), 20))
    report(world["a1"], world["light"], "2021Q3", "60")  # planned 20 × 287 / 364 = 15.77; 44.23 above
    report(world["a1"], world["heavy"], "2021Q3", "40")  # 24.23 above: ahead, but plausible

    completion_recompute_all(as_of=AS_OF)

    light, heavy = sub(world["a1"], world["light"]), sub(world["a1"], world["heavy"])
    assert light.planned_percent == Decimal("15.77")
    assert (light.ahead_of_plan, light.schedule_status) == (True, "ahead")
    assert (heavy.ahead_of_plan, heavy.schedule_status) == (False, "ahead")


# --- As of a past date ----------------------------------------------------------------------------

def test_as_of_a_past_date_ignores_later_approvals_and_later_states(world):
    report(world["a1"], world["light"], "2021Q3", "40", submitted=at(dt.date(2021, 10, 8)),
           reviewed=at(dt.date(2021, 10, 20)))
    report(world["a1"], world["heavy"], "2021Q2", "20", reviewed=at(dt.date(2021, 7, 10)))
    designate(world["a1"], Pilot.State.UNDER_CONSTRUCTION)
    designate(world["a1"], Pilot.State.ACCEPTED, on=dt.date(2021, 12, 1))

    completion_recompute_all(as_of=AS_OF)
    completion_recompute_all(as_of=dt.date(2021, 12, 31))

    before = sub(world["a1"], world["light"])
    assert (before.approved_percent, before.no_report, before.pending_percent) == (0, True, Decimal("40.00"))
    assert rollup(Scope.PILOT, world["a1"].pk).completion == Decimal("15.00")  # (0 + 3 × 20) / 4
    assert rollup(Scope.PILOT, world["a1"].pk).pilot_state == "under_construction"
    assert province(world).accepted_count == 0

    after = sub(world["a1"], world["light"], as_of=dt.date(2021, 12, 31))
    assert (after.approved_percent, after.pending_percent) == (Decimal("40.00"), None)
    assert province(world, as_of=dt.date(2021, 12, 31)).accepted_count == 1


def test_the_as_of_day_ends_at_midnight_in_shanghai(world):
    report(world["a1"], world["light"], "2021Q3", "40", reviewed=dt.datetime(2021, 10, 15, 23, 59, tzinfo=SHANGHAI))
    report(world["a1"], world["heavy"], "2021Q3", "40", reviewed=dt.datetime(2021, 10, 16, 0, 0, tzinfo=SHANGHAI))

    completion_recompute_all(as_of=AS_OF)

    assert sub(world["a1"], world["light"]).no_report is False
    assert sub(world["a1"], world["heavy"]).no_report is True


# --- Forecast and goal ----------------------------------------------------------------------------

def test_the_forecast_extends_the_least_squares_trend_to_100(world):
    for period, percent in (("2021Q1", "20"), ("2021Q2", "40"), ("2021Q3", "60")):
        report(world["a1"], world["light"], period, percent)
        report(world["a1"], world["heavy"], period, percent)

    completion_recompute_all(as_of=AS_OF)

    # Points at the quarter ends, in days from 2021-10-15: (−198, 20), (−107, 40), (−15, 60).
    # Sxx = 50878 − 320² / 3 = 50234 / 3; Sxy = −9140 + 320 × 120 / 3 = 3660; slope = 10980 / 50234 per day.
    # 100 is reached at x̄ + (100 − ȳ) / slope = −106.67 + 60 × 50234 / 10980 = 167.84 → day 168 = 2022-04-01.
    pilot = rollup(Scope.PILOT, world["a1"].pk)
    assert pilot.projected_completion_date == dt.date(2022, 4, 1)
    assert province(world).projected_complete_count == 1  # by the goal deadline, 2022-12-31


def test_a_pilot_behind_its_own_trend_is_not_projected_done_today(world):
    """Issue 20: 10 % then 95 % draws a line that reached 100 in July; at 95 % on 15 October it is not done."""
    for period, percent in (("2021Q1", "10"), ("2021Q2", "95")):
        report(world["a1"], world["light"], period, percent)
        report(world["a1"], world["heavy"], period, percent)

    completion_recompute_all(as_of=AS_OF)

    pilot = rollup(Scope.PILOT, world["a1"].pk)
    assert (pilot.projected_completion_date, pilot.forecast_status) == (None, "behind_trend")
    assert province(world).projected_complete_count == 0  # not counted as finishing by the deadline


def test_forecast_rules():
    day = dt.date(2021, 10, 15)
    assert forecast_completion_date([], as_of=day) is None
    assert forecast_completion_date([(dt.date(2021, 9, 30), Decimal(50))], as_of=day) is None
    flat = [(dt.date(2021, 6, 30), Decimal(50)), (dt.date(2021, 9, 30), Decimal(50))]
    assert forecast_completion_date(flat, as_of=day) is None
    done = [(dt.date(2021, 6, 30), Decimal(100)), (dt.date(2021, 9, 30), Decimal(100))]
    assert forecast_completion_date(done, as_of=day) == dt.date(2021, 6, 30)
    crawling = [(dt.date(2021, 6, 30), Decimal(1)), (dt.date(2021, 9, 30), Decimal("1.1"))]
    assert forecast_completion_date(crawling, as_of=day) is None  # centuries away: no date
    overdue = [(dt.date(2021, 3, 31), Decimal(10)), (dt.date(2021, 6, 30), Decimal(95))]
    # The trend passed 100 before today and the figure has not: behind its own trend, not "done today".
    assert forecast_completion(overdue, as_of=day) == Forecast(None, "behind_trend")
    assert forecast_completion([], as_of=day) == Forecast(None, "insufficient_data")
    assert forecast_completion(flat, as_of=day) == Forecast(None, "not_rising")
    assert forecast_completion(crawling, as_of=day) == Forecast(None, "beyond_horizon")
    assert forecast_completion(done, as_of=day) == Forecast(dt.date(2021, 6, 30), "complete")
    rising = [(dt.date(2021, 6, 30), Decimal(50)), (dt.date(2021, 9, 30), Decimal(60))]
    assert forecast_completion(rising, as_of=day).status == "projected"


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(-1500, 400), st.decimals(0, Decimal("99.99"), places=2)),
                min_size=2, max_size=14, unique_by=lambda point: point[0]))
def test_forecast_is_the_least_squares_crossing_in_exact_fractions(offsets_and_percents):
    """The engine's integer arithmetic gives the day the textbook least-squares line reaches 100."""
    day = dt.date(2021, 10, 15)
    points = sorted((day + dt.timedelta(days=offset), percent) for offset, percent in offsets_and_percents)
    xs = [Fraction((when - day).days) for when, _percent in points]
    ys = [Fraction(percent) for _when, percent in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
    expected = None
    if slope > 0:
        days = math.ceil(mean_x + (100 - mean_y) / slope)
        # On or before the as-of day the pilot is behind its own trend: no date.
        expected = day + dt.timedelta(days=days) if 0 < days <= FORECAST_HORIZON_YEARS * 366 else None
    assert forecast_completion_date(points, as_of=day) == expected


def test_goal_attainment_counts_states_as_of_the_date(world):
    designate(world["a1"], Pilot.State.ACCEPTED, on=dt.date(2021, 9, 1))
    designate(world["a2"], Pilot.State.UNDER_CONSTRUCTION)
    designate(world["b1"], Pilot.State.FAILED_ACCEPTANCE, on=dt.date(2021, 9, 1))

    completion_recompute_all(as_of=AS_OF)

    figures = province(world)
    assert (figures.designated_count, figures.accepted_count, figures.goal) == (2, 1, 4)
    assert figures.pilot_count == 3  # a pilot that failed acceptance still counts in completion


# --- Reporting rate and timeliness ----------------------------------------------------------------

def test_reporting_rate_and_on_time_share_around_a_deadline_moved_by_national_day(world):
    programme = world["programme"]
    programme.report_due_days = 3  # 2021Q3 is then due on 2021-10-03, a holiday: moved to Friday 2021-10-08
    programme.save()
    report(world["a1"], world["light"], "2021Q3", "40", submitted=at(dt.date(2021, 10, 7)))  # on time
    report(world["a1"], world["heavy"], "2021Q3", "40", submitted=at(dt.date(2021, 10, 8), 23))  # on time
    report(world["a2"], world["light"], "2021Q3", "40", state=State.SUBMITTED,
           submitted=at(dt.date(2021, 10, 9)))  # late, although 10-09 was a working day
    returned = report(world["a2"], world["heavy"], "2021Q3", "40", state=State.SUBMITTED,
                      submitted=at(dt.date(2021, 10, 12)))
    ReportTransition.objects.filter(report=returned).update(at=at(dt.date(2021, 10, 5)))  # first sent on time,
    # returned and resubmitted later: the first submission is what counts
    report(world["b1"], world["light"], "2021Q3", "40", state=State.DRAFT)  # not received
    report(world["b1"], world["heavy"], "2021Q3", "40", submitted=at(dt.date(2021, 10, 16)))  # after the as-of date
    world["pilot"]("510505", world["luzhou"], construction_start=dt.date(2021, 10, 1))  # expected from 2021Q4

    completion_recompute_all(as_of=AS_OF)

    def rate(scope, scope_id, period="2021Q3"):
        return ReportingRate.objects.get(scope=scope, scope_id=scope_id, period=period, as_of=AS_OF, real_only=False)

    chengdu = rate("prefecture", world["chengdu"].pk)
    assert (chengdu.expected, chengdu.received, chengdu.on_time) == (4, 4, 3)
    assert chengdu.deadline == dt.date(2021, 10, 8)
    luzhou = rate("prefecture", world["luzhou"].pk)
    assert (luzhou.expected, luzhou.received, luzhou.on_time) == (2, 0, 0)
    whole = rate("province", world["programme"].pk)
    assert (whole.expected, whole.received, whole.on_time) == (6, 4, 3)
    assert rate("province", world["programme"].pk, "2021Q4").expected == 8  # 4 pilots × 2 sub-tasks
    assert rate("province", world["programme"].pk, "2021Q1").received == 0


def test_first_submission_falls_back_to_revision_ones_submitted_at(world):
    world["programme"].report_due_days = 3
    world["programme"].save()
    report(world["a1"], world["light"], "2021Q3", "40", submitted=at(dt.date(2021, 10, 8)), transitions=False)
    report(world["a1"], world["heavy"], "2021Q3", "40", submitted=at(dt.date(2021, 10, 11)), transitions=False)

    completion_recompute_all(as_of=AS_OF)

    row = ReportingRate.objects.get(scope="prefecture", scope_id=world["chengdu"].pk, period="2021Q3", as_of=AS_OF,
                                    real_only=False)
    assert (row.received, row.on_time) == (2, 1)


# --- Demo data --------------------------------------------------------------------------------------

def test_real_only_leaves_out_demo_pilots_and_demo_reports(world):
    report(world["a1"], world["light"], "2021Q3", "40")
    report(world["a1"], world["heavy"], "2021Q3", "80", is_demo=True)
    demo = world["pilot"]("510112", world["chengdu"], is_demo=True)
    report(demo, world["light"], "2021Q3", "100", is_demo=True)

    completion_recompute_all(as_of=AS_OF)

    assert rollup(Scope.PILOT, world["a1"].pk).completion == Decimal("70.00")
    assert rollup(Scope.PILOT, world["a1"].pk, real_only=True).completion == Decimal("10.00")  # 40 / 4
    assert not SubtaskCompletion.objects.filter(pilot=demo, real_only=True).exists()
    everything, real = province(world), province(world, real_only=True)
    assert (everything.pilot_count, everything.demo_pilot_count, everything.includes_demo) == (4, 1, True)
    assert (real.pilot_count, real.demo_pilot_count, real.includes_demo) == (3, 0, False)
    assert real.completion == Decimal("3.33")  # (10 + 0 + 0) / 3
    assert sub(world["a1"], world["heavy"]).includes_demo is True
    assert sub(world["a1"], world["light"]).includes_demo is False


def test_a_real_pilot_without_demo_content_has_the_same_real_only_figures(world):
    """Such a pilot's real_only rows are copied from its all-data rows, not computed again: same figures."""
    plan(world["a2"], world["light"], (dt.date(2021, 6, 30), 30), (dt.date(2021, 12, 31), 80))
    report(world["a2"], world["light"], "2021Q2", "25")
    report(world["a2"], world["heavy"], "2021Q3", "50", state=State.SUBMITTED)
    demo_plan = plan(world["b1"], world["light"], (dt.date(2021, 6, 30), 90))
    PlanItem.objects.filter(pk=demo_plan.pk).update(is_demo=True)  # so b1's real_only figures have no plan
    report(world["b1"], world["light"], "2021Q3", "30")

    completion_recompute_all(as_of=AS_OF)

    columns = ("subtask_id", "approved_percent", "pending_percent", "planned_percent", "variance",
               "schedule_status", "no_report", "stalled", "ahead_of_plan", "includes_demo")
    for real_only in (False, True):
        assert sub(world["a2"], world["light"], real_only=real_only).planned_percent is not None
    assert (list(SubtaskCompletion.objects.filter(pilot=world["a2"], real_only=True).order_by("subtask")
                 .values_list(*columns))
            == list(SubtaskCompletion.objects.filter(pilot=world["a2"], real_only=False).order_by("subtask")
                    .values_list(*columns)))
    figures = ("completion", "planned", "variance", "pilot_state", "projected_completion_date", "pilot_count")
    for scope, task in ((Scope.PILOT, None), (Scope.PILOT_TASK, world["task"])):
        everything = rollup(scope, world["a2"].pk, task=task)
        real = rollup(scope, world["a2"].pk, real_only=True, task=task)
        assert [getattr(real, name) for name in figures] == [getattr(everything, name) for name in figures]
    assert sub(world["b1"], world["light"]).planned_percent is not None
    assert sub(world["b1"], world["light"], real_only=True).planned_percent is None


# --- Running it: idempotence, one pilot, stale rows, the command ------------------------------------

def _snapshot():
    return {
        "subtasks": sorted(SubtaskCompletion.objects.values_list(
            "pilot_id", "subtask_id", "as_of", "real_only", "approved_percent", "pending_percent", "planned_percent",
            "variance", "schedule_status", "no_report", "stalled", "ahead_of_plan")),
        "rollups": sorted(CompletionRollup.objects.values_list(
            "scope", "scope_id", "task_id", "as_of", "real_only", "completion", "planned", "variance", "pilot_count",
            "no_report_count", "behind_count", "pilot_state", "projected_completion_date",
            "projected_complete_count", "designated_count"), key=str),
        "rates": sorted(ReportingRate.objects.values_list(
            "scope", "scope_id", "period", "as_of", "real_only", "expected", "received", "on_time")),
    }


def _busy_world(world):
    plan(world["a1"], world["light"], (dt.date(2021, 6, 30), 30), (dt.date(2021, 12, 31), 80))
    for period, percent in (("2021Q1", "20"), ("2021Q2", "40"), ("2021Q3", "60")):
        report(world["a1"], world["light"], period, percent)
        report(world["a2"], world["heavy"], period, percent)
    report(world["b1"], world["light"], "2021Q3", "55", state=State.SUBMITTED)


def test_recomputing_is_idempotent(world):
    _busy_world(world)
    completion_recompute_all(as_of=AS_OF)
    first = _snapshot()

    completion_recompute_all(as_of=AS_OF)

    assert _snapshot() == first
    assert len(first["subtasks"]) == 3 * 2 * 2  # pilots × sub-tasks × variants


def test_recomputing_one_pilot_updates_its_rollups_like_a_full_run(world):
    _busy_world(world)
    completion_recompute_all(as_of=AS_OF)
    report(world["a2"], world["light"], "2021Q3", "90")

    completion_recompute_pilot(pilot_id=world["a2"].pk, as_of=AS_OF)
    after_one = _snapshot()
    completion_recompute_all(as_of=AS_OF)

    assert after_one == _snapshot()
    assert rollup(Scope.PILOT, world["a2"].pk).completion == Decimal("67.50")  # (90 + 3 × 60) / 4


def test_recomputing_one_pilot_with_no_snapshot_for_the_day_computes_them_all(world):
    _busy_world(world)

    completion_recompute_pilot(pilot_id=world["a1"].pk, as_of=AS_OF)

    assert province(world).pilot_count == 3
    assert CompletionRollup.objects.filter(scope=Scope.PILOT, as_of=AS_OF).count() == 3 * 2


def test_rows_of_a_pilot_no_longer_designated_on_the_date_are_removed(world):
    _busy_world(world)
    completion_recompute_all(as_of=AS_OF)
    designate(world["b1"], on=dt.date(2021, 12, 1))  # its history now starts after the as-of date

    completion_recompute_all(as_of=AS_OF)

    assert not SubtaskCompletion.objects.filter(pilot=world["b1"]).exists()
    assert not CompletionRollup.objects.filter(pilot=world["b1"]).exists()
    assert not CompletionRollup.objects.filter(scope=Scope.PREFECTURE, scope_id=world["luzhou"].pk).exists()
    assert province(world).pilot_count == 2


def test_the_command_backfills_a_range_of_dates(world):
    _busy_world(world)

    call_command("recompute_completion", "--from", "2021-09-29", "--to", "2021-10-01")
    call_command("recompute_completion", "--as-of", "2021-07-01")

    dates = set(CompletionRollup.objects.filter(scope=Scope.PROVINCE).values_list("as_of", flat=True))
    assert dates == {dt.date(2021, 9, 29), dt.date(2021, 9, 30), dt.date(2021, 10, 1), dt.date(2021, 7, 1)}
    assert province(world, as_of=dt.date(2021, 7, 1)).completion < province(world, as_of=dt.date(2021, 10, 1)).completion


# --- Two runs at once (PostgreSQL) ------------------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_full_recomputes_at_once_give_the_same_figures_and_no_duplicate_rows(world):
    _busy_world(world)
    completion_recompute_all(as_of=AS_OF)
    alone = _snapshot()
    SubtaskCompletion.objects.all().delete()
    CompletionRollup.objects.all().delete()
    ReportingRate.objects.all().delete()

    start, errors = threading.Barrier(2), []

    def run():
        try:
            start.wait()
            completion_recompute_all(as_of=AS_OF)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert errors == []
    assert connection.vendor == "postgresql"
    assert _snapshot() == alone
    assert SubtaskCompletion.objects.count() == len(alone["subtasks"])
    assert CompletionRollup.objects.count() == len(alone["rollups"])
    assert ReportingRate.objects.count() == len(alone["rates"])


def test_a_programme_with_no_pilot_yet_still_has_a_province_row(world):
    for code in ("a1", "a2", "b1"):
        designate(world[code], on=dt.date(2022, 1, 1))

    completion_recompute_all(as_of=AS_OF)

    figures = province(world)
    assert (figures.pilot_count, figures.completion, figures.designated_count, figures.goal) == (0, None, 0, 4)
    assert not SubtaskCompletion.objects.exists()
