"""What is overdue: one function per kind, and the levels an item reaches."""

from __future__ import annotations

import datetime as dt

import pytest

from pilots.models import Milestone, Organisation, PlanItem, ProgressReport, ReminderRule
from pilots.services.reminders import (
    item_levels,
    overdue_milestones,
    overdue_now,
    overdue_returned_reports,
    overdue_reviews,
    reminder_rules_ensure,
    reminders_record,
)
from tests.factories import OrganisationFactory, PilotFactory, PrefectureFactory, SubTaskFactory, TaskFactory, member

pytestmark = pytest.mark.django_db

CST = dt.timezone(dt.timedelta(hours=8))
D = dt.date


def rule(**values) -> ReminderRule:
    defaults = {"kind": "report_missing", "due_soon_days": 3, "repeat_every_working_days": 5,
                "escalate_after_days": 10}
    return ReminderRule(**{**defaults, **values})


@pytest.mark.parametrize(("today", "expected"), [
    (D(2021, 10, 4), []),  # four days before
    (D(2021, 10, 5), [("due_soon", D(2021, 10, 8))]),
    (D(2021, 10, 8), [("due_soon", D(2021, 10, 8))]),
    (D(2021, 10, 9), [("overdue", D(2021, 10, 9))]),
    (D(2021, 10, 14), [("overdue", D(2021, 10, 9))]),
    (D(2021, 10, 15), [("repeat", D(2021, 10, 15))]),
    (D(2021, 10, 21), [("repeat", D(2021, 10, 15)), ("escalation", D(2021, 10, 18))]),
    (D(2021, 10, 18), [("repeat", D(2021, 10, 15)), ("escalation", D(2021, 10, 18))]),
    (D(2021, 10, 22), [("repeat", D(2021, 10, 22)), ("escalation", D(2021, 10, 18))]),
])
def test_levels_around_a_deadline_moved_by_national_day(today, expected):
    assert item_levels(due_on=D(2021, 10, 8), today=today, rule=rule()) == expected


def test_no_repeat_and_no_escalation_when_set_to_zero():
    quiet = rule(due_soon_days=0, repeat_every_working_days=0, escalate_after_days=0)
    assert item_levels(due_on=D(2021, 10, 8), today=D(2021, 10, 8), rule=quiet) == []
    assert item_levels(due_on=D(2021, 10, 8), today=D(2021, 12, 1), rule=quiet) == [("overdue", D(2021, 10, 9))]


@pytest.fixture
def world():
    task = TaskFactory(code="T4")
    subtask = SubTaskFactory(task=task, code="T4.1")
    chengdu = PrefectureFactory(code="510100")
    pilot = PilotFactory(programme=task.programme, prefecture=chengdu, code="510108",
                         construction_start=D(2021, 7, 1))
    office = OrganisationFactory(kind=Organisation.Kind.PREFECTURE, prefecture=chengdu)
    province = OrganisationFactory(code="province")
    reminder_rules_ensure()
    return {"T4.1": subtask, "pilot": pilot, "reporter": member("reporter", office),
            "reviewer": member("reviewer", province)}


def report(world, **fields) -> ProgressReport:
    values = {"pilot": world["pilot"], "subtask": world["T4.1"], "period": "2021Q3", "period_start": D(2021, 7, 1),
              "percent_complete": 30, "status": "on_track"}
    return ProgressReport.objects.create(**{**values, **fields})


def test_milestone_past_due_below_the_latest_approved_percent(world):
    plan = PlanItem.objects.create(pilot=world["pilot"], subtask=world["T4.1"], description="平台")
    passed = Milestone.objects.create(plan_item=plan, title="一期", due_on=D(2021, 9, 30), target_percent=50)
    Milestone.objects.create(plan_item=plan, title="二期", due_on=D(2022, 6, 30), target_percent=80)
    milestone_rule = ReminderRule.objects.get(kind="milestone_behind")
    report(world, state="approved", percent_complete=30, period="2021Q2", period_start=D(2021, 4, 1))
    items = overdue_milestones(today=D(2021, 10, 15), rule=milestone_rule)
    assert [(i.key, i.due_on) for i in items] == [(f"milestone:{passed.pk}", D(2021, 9, 30))]
    report(world, state="submitted", percent_complete=60)  # not approved: still behind
    assert len(overdue_milestones(today=D(2021, 10, 15), rule=milestone_rule)) == 1
    ProgressReport.objects.filter(state="submitted").update(state="approved")
    assert overdue_milestones(today=D(2021, 10, 15), rule=milestone_rule) == []


def test_a_superseded_milestone_is_not_reminded_of(world):
    plan = PlanItem.objects.create(pilot=world["pilot"], subtask=world["T4.1"], description="平台")
    Milestone.objects.create(plan_item=plan, title="一期", due_on=D(2021, 6, 30), target_percent=20)
    latest = Milestone.objects.create(plan_item=plan, title="二期", due_on=D(2021, 9, 30), target_percent=50)
    items = overdue_milestones(today=D(2021, 10, 15), rule=ReminderRule.objects.get(kind="milestone_behind"))
    assert [i.milestone_id for i in items] == [latest.pk]


def test_returned_report_not_resubmitted_within_ten_days(world):
    returned = report(world, state="returned", reviewed_at=dt.datetime(2021, 10, 12, 16, tzinfo=CST))
    returned_rule = ReminderRule.objects.get(kind="returned_stale")  # 10 days, due soon 2 days before
    assert overdue_returned_reports(today=D(2021, 10, 19), rule=returned_rule) == []
    [item] = overdue_returned_reports(today=D(2021, 10, 20), rule=returned_rule)
    assert (item.report_id, item.due_on) == (returned.pk, D(2021, 10, 22))
    assert item_levels(due_on=item.due_on, today=D(2021, 10, 25), rule=returned_rule) == [("overdue", D(2021, 10, 23))]


def test_submitted_report_not_reviewed_within_five_working_days(world):
    # Submitted on the last day before National Day: the 5th working day after is 2021-10-13
    # (10-08, the adjusted Saturday 10-09, 10-11, 10-12, 10-13).
    submitted = report(world, state="submitted", submitted_at=dt.datetime(2021, 9, 30, 17, tzinfo=CST))
    review_rule = ReminderRule.objects.get(kind="review_stale")
    [item] = overdue_reviews(today=D(2021, 10, 15), rule=review_rule)
    assert (item.report_id, item.due_on) == (submitted.pk, D(2021, 10, 13))
    assert overdue_reviews(today=D(2021, 10, 13), rule=review_rule)  # due today: listed, no level yet
    assert item_levels(due_on=item.due_on, today=D(2021, 10, 13), rule=review_rule) == []


def test_reviewers_are_reminded_of_reviews_and_reporters_of_reports(world):
    report(world, state="submitted", submitted_at=dt.datetime(2021, 9, 30, 17, tzinfo=CST))
    reminders_record(today=D(2021, 10, 15), hour=9)
    from pilots.models import Reminder

    review = Reminder.objects.filter(kind="review_stale")
    assert {r.recipient for r in review} == {f"in_app:{world['reviewer'].pk}"}  # no email address on file
    assert not Reminder.objects.filter(kind="review_stale", recipient_user=world["reporter"]).exists()


def test_overdue_now_lists_each_item_at_its_highest_level(world):
    entries = overdue_now(today=D(2021, 10, 25))
    assert [(e.item.kind, e.item.period, e.level) for e in entries] == [("report_missing", "2021Q3", "escalation")]
