"""The benchmark's generator and measurements run, and what they measure agrees (no timing assertions)."""

from __future__ import annotations

import pytest

from pilots.benchmark.generate import benchmark_generate, has_second_revision
from pilots.benchmark.run import check_in_process
from pilots.models import Milestone, Pilot, PlanItem, Prefecture, ProgressReport, ReportTransition
from tasks_app.models import SubTask

pytestmark = pytest.mark.django_db

PREFECTURES, PILOTS, QUARTERS = 3, 30, 4


@pytest.fixture
def bench():
    return benchmark_generate(prefectures=PREFECTURES, pilots=PILOTS, quarters=QUARTERS)


def test_generated_rows_match_the_requested_sizes(bench):
    pilots = Pilot.objects.filter(programme__code="bench")
    assert pilots.count() == PILOTS
    assert Prefecture.objects.filter(pilots__programme__code="bench").distinct().count() == PREFECTURES
    assert SubTask.objects.filter(task__programme__code="bench").count() == 17
    assert PlanItem.objects.filter(pilot__in=pilots).count() == PILOTS * 17
    assert Milestone.objects.filter(plan_item__pilot__in=pilots).count() == PILOTS * 17 * 3
    reports = ProgressReport.objects.filter(pilot__in=pilots)
    assert reports.filter(revision=1).count() == PILOTS * 17 * QUARTERS
    expected_second = sum(
        1 for p in range(PILOTS) for s in range(17) for q in range(QUARTERS)
        if has_second_revision(p, s, q) and not (q == QUARTERS - 1 and p % 5 == 0)
    )
    assert reports.filter(revision=2).count() == expected_second > 0
    assert reports.filter(is_current=True).count() == PILOTS * 17 * QUARTERS
    assert ReportTransition.objects.filter(report__in=reports).count() == bench["reporttransition"]
    assert bench["progressreport"] == reports.count()


def test_benchmark_figures_agree_with_raw_sql_and_reminders_are_unique(bench):
    result = check_in_process()
    checks = result.checks
    assert checks["pilots_compared"] == PILOTS
    assert checks["pilot_mismatch_count"] == 0, checks["pilot_mismatches"]
    assert checks["reminders"] > 0
    assert checks["reminders"] == checks["reminders_distinct"]
    assert checks["second_sweep"]["reminders"] == 0  # nothing sent twice


def test_the_floor_endpoint_exists_only_on_the_benchmark_server(bench, settings):
    """The one-row write floor is routed by the benchmark's settings module, never by the service's."""
    from django.urls import Resolver404, resolve

    with pytest.raises(Resolver404):
        resolve("/api/v1/_benchmark/floor-write/")
    settings.ROOT_URLCONF = "pilots.benchmark.urls"
    assert resolve("/api/v1/_benchmark/floor-write/").url_name == "benchmark-floor-write"
