"""A newcomer's first run shows plausible progress, flagged as demo data, obeying every report rule."""

import datetime as dt

import pytest
from django.core.management import call_command

from pilots.models import Pilot, PlanItem, ProgressReport
from pilots.periods import Period
from pilots.services.demo_progress import demo_progress_ensure
from pilots.services.reports import CONTENT_FIELDS, report_rules_check

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 25)


@pytest.fixture
def demo_world():
    call_command("bootstrap", "--demo", stdout=open("/dev/null", "w"))
    return Pilot.objects.count()


def test_every_pilot_gets_a_plan_and_reports_all_flagged_demo(demo_world):
    assert demo_world == 30
    assert PlanItem.objects.values("pilot").distinct().count() == 30
    assert PlanItem.objects.filter(is_demo=False).count() == 0
    assert ProgressReport.objects.filter(is_demo=False).count() == 0
    assert ProgressReport.objects.filter(state="submitted").exists()  # something for the province to review
    assert ProgressReport.objects.filter(state="approved").exists()


def test_a_real_pilot_keeps_its_facts_while_its_progress_is_labelled_demo(demo_world):
    chenghua = Pilot.objects.get(code="510108")

    assert chenghua.is_demo is False
    assert chenghua.reports.exists() and not chenghua.reports.filter(is_demo=False).exists()


def test_demo_reports_obey_the_report_rules(demo_world):
    for pilot in Pilot.objects.filter(code__in=["510108", "513426", "510107"]):
        for report in pilot.reports.select_related("subtask__task"):
            content = {field: getattr(report, field) for field in CONTENT_FIELDS}
            report_rules_check(pilot=pilot, subtask=report.subtask, period=Period.parse(report.period),
                               content=content, today=TODAY, exclude_report_id=report.pk)


def test_some_offices_forgot_their_latest_report(demo_world):
    expected = sum(1 for _ in Pilot.objects.all()) * 17
    latest = ProgressReport.objects.values("pilot", "subtask").distinct().count()

    assert latest == expected  # every pilot and sub-task has some history
    last_quarter_reports = sum(
        ProgressReport.objects.filter(pilot=p, period=str(max(Period.parse(r) for r in
                                      p.reports.values_list("period", flat=True).distinct()))).count()
        for p in Pilot.objects.all()
    )
    assert last_quarter_reports < expected


def test_running_it_again_adds_nothing(demo_world):
    before = ProgressReport.objects.count()

    assert demo_progress_ensure(today=TODAY) == {"plan_items": 0, "milestones": 0, "reports": 0}
    assert ProgressReport.objects.count() == before


def test_a_first_run_already_shows_completion_and_its_history(demo_world):
    from pilots.models import CompletionRollup

    province = CompletionRollup.objects.filter(scope="province", real_only=False)

    assert province.filter(as_of=dt.date(2022, 12, 31)).exists()  # the programme deadline
    assert province.values("as_of").distinct().count() >= 8  # quarter by quarter through 2022
