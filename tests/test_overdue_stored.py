"""/api/v1/overdue/ reads the list the reminder sweep stored: nothing is detected on read.

A prefecture clerk and the province read one stored list, filtered and paged by the database, at a
cost that does not grow with the list; filing a report recomputes that pilot's items after it commits.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pilots.models import Milestone, Organisation, PlanItem, ReminderRule
from pilots.selectors.overdue import overdue_counts_by_level
from pilots.services.reminders import overdue_now, reminder_rules_ensure, reminders_sweep
from pilots.tasks import refresh_overdue
from smartcity.models import OutboxMessage
from tests.factories import (
    DepartmentFactory, OrganisationFactory, PilotFactory, PrefectureFactory, SubTaskDepartmentFactory,
    SubTaskFactory, TaskFactory, member,
)
from tests.helpers import client_for

pytestmark = pytest.mark.django_db

CST = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2021, 10, 9, 9, 30, tzinfo=CST)  # the adjusted working Saturday after 2021Q3's deadline


@pytest.fixture(autouse=True)
def adjusted_saturday():
    with time_machine.travel(NOW, tick=False):
        yield


def make_world(pilots_per_prefecture: int = 1, subtasks: int = 1):
    task = TaskFactory(code="T4", programme__report_due_days=5)
    subs = [SubTaskFactory(task=task, code=f"T4.{n + 1}", order=n + 1) for n in range(subtasks)]
    chengdu, luzhou = PrefectureFactory(code="510100"), PrefectureFactory(code="510500")
    pilots = {prefecture.code: [PilotFactory(programme=task.programme, prefecture=prefecture,
                                             construction_start=dt.date(2021, 7, 1))
                                for _n in range(pilots_per_prefecture)]
              for prefecture in (chengdu, luzhou)}
    office = OrganisationFactory(kind=Organisation.Kind.PREFECTURE, prefecture=chengdu)
    reviewer = member("reviewer", OrganisationFactory(code="province"))
    reminder_rules_ensure()
    return {"subtasks": subs, "pilots": pilots, "chengdu": client_for(member("reporter", office), can_write=True),
            "reviewer": client_for(reviewer, can_write=True)}


def test_nothing_is_detected_on_read_the_sweep_stores_the_list():
    world = make_world()
    assert len(overdue_now(today=NOW.date())) == 2  # two quarterly reports are overdue today…
    before = world["reviewer"].get("/api/v1/overdue/").json()
    assert (before["count"], before["computed_at"]) == (0, None)  # …but nobody has computed the list yet

    reminders_sweep(now=NOW)
    after = world["reviewer"].get("/api/v1/overdue/").json()
    assert after["count"] == 2
    assert after["computed_at"] == "2021-10-09T09:30:00+08:00"
    assert {e["computed_at"] for e in after["results"]} == {"2021-10-09T09:30:00+08:00"}
    assert overdue_counts_by_level() == {"due_soon": 0, "overdue": 2, "repeat": 0, "escalation": 0}


def test_on_a_holiday_the_list_is_computed_once_for_the_day():
    world = make_world()
    holiday = dt.datetime(2021, 10, 6, 10, 0, tzinfo=CST)  # National Day holidays: no reminders are sent
    with time_machine.travel(holiday, tick=False):
        assert reminders_sweep(now=holiday) == {"skipped": "not a working day"}
        assert reminders_sweep(now=holiday + dt.timedelta(minutes=15)) == {"skipped": "not a working day"}
        listed = world["reviewer"].get("/api/v1/overdue/").json()
    assert listed["computed_at"] == "2021-10-06T10:00:00+08:00"  # the first run of the day computed it
    assert [e["level"] for e in listed["results"]] == ["due_soon", "due_soon"]  # due 10-08, 3 days' notice


def test_filing_the_missing_report_takes_it_off_the_list_after_commit():
    world = make_world()
    reminders_sweep(now=NOW)
    chenghua = world["pilots"]["510100"][0]
    filed = world["chengdu"].post("/api/v1/reports/", {
        "pilot": chenghua.pk, "subtask": world["subtasks"][0].pk, "period": "2021Q3", "percent_complete": "30.0",
        "status": "on_track", "submit": True}, format="json")
    assert filed.status_code == 201, filed.json()
    message = OutboxMessage.objects.get(task="pilots.refresh_overdue")
    assert message.kwargs == {"pilot_id": chenghua.pk}
    refresh_overdue(**message.kwargs)  # what the worker runs once the change commits
    listed = world["reviewer"].get("/api/v1/overdue/").json()
    assert [e["pilot"]["id"] for e in listed["results"]] == [world["pilots"]["510500"][0].pk]
    assert listed["computed_at"] == "2021-10-09T09:30:00+08:00"  # the sweep's list; one pilot recomputed since


def test_most_urgent_first_and_scoped_to_the_caller():
    world = make_world()
    ReminderRule.objects.filter(kind="report_missing").update(repeat_every_working_days=0, escalate_after_days=0)
    ReminderRule.objects.filter(kind="milestone_behind").update(escalate_after_days=1)
    jiangyang = world["pilots"]["510500"][0]
    plan = PlanItem.objects.create(pilot=jiangyang, subtask=world["subtasks"][0], description="平台")
    milestone = Milestone.objects.create(plan_item=plan, title="一期", due_on=dt.date(2021, 10, 9), target_percent=50)
    monday = dt.datetime(2021, 10, 11, 9, 30, tzinfo=CST)
    with time_machine.travel(monday, tick=False):
        reminders_sweep(now=monday)
        everything = world["reviewer"].get("/api/v1/overdue/").json()
        mine = world["chengdu"].get("/api/v1/overdue/").json()
    # Escalated first although due a day later than the overdue reports; then the oldest due date.
    assert [(e["kind"], e["level"], e["due_on"]) for e in everything["results"]] == [
        ("milestone_behind", "escalation", "2021-10-09"), ("report_missing", "overdue", "2021-10-08"),
        ("report_missing", "overdue", "2021-10-08")]
    assert everything["results"][0]["milestone"] == milestone.pk
    assert [e["pilot"]["prefecture"] for e in mine["results"]] == ["510100"] and mine["count"] == 1
    assert world["reviewer"].get("/api/v1/overdue/?level=escalation&prefecture=510500").json()["count"] == 1
    assert world["reviewer"].get("/api/v1/overdue/?kind=milestone_behind&prefecture=510100").json()["count"] == 0


def test_a_department_sees_the_items_of_its_sub_tasks():
    world = make_world(subtasks=2)
    department = DepartmentFactory()
    SubTaskDepartmentFactory(subtask=world["subtasks"][1], department=department)
    reminders_sweep(now=NOW)
    office = member("viewer", OrganisationFactory(kind=Organisation.Kind.DEPARTMENT, department=department))
    listed = client_for(office).get("/api/v1/overdue/").json()
    assert listed["count"] == 2 and {e["subtask"]["code"] for e in listed["results"]} == {"T4.2"}


def _queries_to_list(client) -> int:
    client.get("/api/v1/overdue/")  # the caller's first request also loads what is cached per caller
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/overdue/?page_size=100")
    assert response.status_code == 200
    return len(queries)


def test_the_query_count_does_not_grow_with_the_list():
    world = make_world()
    task = world["subtasks"][0].task
    PilotFactory(programme=task.programme, prefecture=world["pilots"]["510100"][0].prefecture,
                 construction_start=dt.date(2021, 7, 1))
    reminders_sweep(now=NOW)
    assert world["reviewer"].get("/api/v1/overdue/").json()["count"] == 3  # 3 pilots × 1 sub-task
    few = _queries_to_list(world["reviewer"])

    for n in range(2, 21):
        SubTaskFactory(task=task, code=f"T4.{n}", order=n)
    reminders_sweep(now=NOW)
    assert world["reviewer"].get("/api/v1/overdue/").json()["count"] == 60  # 3 pilots × 20 sub-tasks
    assert _queries_to_list(world["reviewer"]) == few
