"""The completion API reads the stored figures, scoped like the rest of the API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pilots.models import CompletionRollup, ProgressReport
from pilots.services.completion import completion_recompute_all
from tests.completion_helpers import at, plan, report
from tests.factories import (
    DepartmentFactory,
    OrganisationFactory,
    PilotFactory,
    PrefectureFactory,
    ProgrammeFactory,
    SubTaskDepartmentFactory,
    SubTaskFactory,
    TaskFactory,
    UserFactory,
    member,
)
from tests.helpers import client_for, error_fields

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2021, 10, 15)
EARLIER = dt.date(2021, 7, 6)  # 2021Q2 submitted on 07-05, approved on 07-07
State = ProgressReport.State


@pytest.fixture
def world():
    programme = ProgrammeFactory(code="sc-2020-3", goal_pilot_count=30, goal_deadline=dt.date(2022, 12, 31))
    task = TaskFactory(programme=programme, code="T4")
    online = SubTaskFactory(task=task, code="T4.1", weight=Decimal(1))
    livelihood = SubTaskFactory(task=task, code="T4.2", weight=Decimal(3))
    big_data = DepartmentFactory(code="big-data-centre")
    SubTaskDepartmentFactory(subtask=livelihood, department=big_data)
    chengdu = PrefectureFactory(code="510100")
    luzhou = PrefectureFactory(code="510500")
    chenghua = PilotFactory(programme=programme, prefecture=chengdu, code="510108")
    jiangyang = PilotFactory(programme=programme, prefecture=luzhou, code="510502")
    plan(chenghua, online, (dt.date(2021, 6, 30), 30), (dt.date(2021, 12, 31), 80))
    for period, percent in (("2021Q1", "20"), ("2021Q2", "40"), ("2021Q3", "60")):
        report(chenghua, online, period, percent)
        report(chenghua, livelihood, period, percent)
    report(chenghua, online, "2021Q4", "70", state=State.SUBMITTED, submitted=at(dt.date(2021, 10, 14)))
    report(jiangyang, online, "2021Q3", "100")
    completion_recompute_all(as_of=EARLIER)
    completion_recompute_all(as_of=AS_OF)
    province = OrganisationFactory(code="province")
    return {
        "programme": programme, "task": task, "online": online, "livelihood": livelihood, "big_data": big_data,
        "chengdu": chengdu, "luzhou": luzhou, "chenghua": chenghua, "jiangyang": jiangyang,
        "viewer": client_for(member("viewer", province)),
        "chengdu_office": client_for(member("reporter", OrganisationFactory(kind="prefecture", prefecture=chengdu))),
        "department": client_for(member("viewer", OrganisationFactory(kind="department", department=big_data))),
    }


# --- Province ---------------------------------------------------------------------------------------

def test_the_province_figures_default_to_the_newest_date(world):
    body = world["viewer"].get("/api/v1/completion/province/").json()

    # chenghua (60 + 3 × 60) / 4 = 60, jiangyang (100 + 0) / 4 = 25 → 42.5
    assert body["as_of"] == "2021-10-15" and body["computed_at"]
    assert (body["completion"], body["pilot_count"], body["real_only"]) == ("42.50", 2, False)
    assert (body["programme"], body["goal"], body["goal_deadline"]) == ("sc-2020-3", 30, "2022-12-31")
    assert (body["designated_count"], body["designated_share"]) == (2, "0.0667")
    assert body["projected_complete_count"] == 1  # chenghua on 2022-04-01; one quarter is no trend for jiangyang
    assert body["demo_label"] is None


def test_demo_pilots_never_count_towards_the_goal_and_are_counted_apart(world):
    """Issue 21: 30 / 30 designated while 20 were demo pilots; goal attainment counts real designations only."""
    for code in ("519901", "519902", "519903"):
        PilotFactory(programme=world["programme"], prefecture=world["chengdu"], code=code, is_demo=True)
    completion_recompute_all(as_of=AS_OF)

    everything = world["viewer"].get("/api/v1/completion/province/").json()
    real = world["viewer"].get("/api/v1/completion/province/", {"real_only": "true"}).json()

    assert everything["includes_demo"] is True and everything["demo_label"]
    assert (everything["designated_count"], everything["designated_real"], everything["designated_demo"]) == (5, 2, 3)
    assert (everything["accepted_real"], everything["accepted_demo"]) == (0, 0)
    assert everything["designated_share"] == "0.0667"  # 2 / 30, not 5 / 30
    assert (real["designated_count"], real["designated_real"], real["designated_demo"]) == (2, 2, 0)
    assert real["designated_share"] == "0.0667"


def test_the_province_figures_as_of_a_past_date_and_without_demo_data(world):
    viewer = world["viewer"]

    earlier = viewer.get("/api/v1/completion/province/", {"as_of": "2021-07-06"}).json()
    real = viewer.get("/api/v1/completion/province/", {"real_only": "true"}).json()

    assert (earlier["as_of"], earlier["completion"]) == ("2021-07-06", "10.00")  # (20 + 0) / 2: Q2 not yet approved
    assert real["real_only"] is True
    missing = viewer.get("/api/v1/completion/province/", {"as_of": "2020-01-01"})
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


@pytest.mark.parametrize("params", [{"as_of": "yesterday"}, {"real_only": "maybe"}, {"asof": "2021-10-15"}])
def test_the_province_rejects_bad_and_unknown_parameters(world, params):
    response = world["viewer"].get("/api/v1/completion/province/", params)

    assert response.status_code == 400
    assert error_fields(response) == set(params)


def test_an_unknown_parameter_is_named_with_its_code(world):
    response = world["viewer"].get("/api/v1/completion/province/", {"prefecture": "510100"})

    assert response.json()["errors"][0]["code"] == "unknown_parameter"


def test_completion_needs_credentials_and_an_organisation(world):
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/completion/province/").status_code == 401
    assert client_for(UserFactory()).get("/api/v1/completion/province/").status_code == 403
    assert client_for(UserFactory()).get("/api/v1/completion/prefectures/").status_code == 403


# --- Prefectures, tasks, departments --------------------------------------------------------------

def test_prefectures_tasks_and_departments(world):
    viewer = world["viewer"]

    prefectures = viewer.get("/api/v1/completion/prefectures/").json()["results"]
    tasks = viewer.get("/api/v1/completion/tasks/").json()["results"]
    departments = viewer.get("/api/v1/completion/departments/").json()["results"]

    assert [(row["prefecture"]["code"], row["completion"]) for row in prefectures] == [
        ("510100", "60.00"), ("510500", "25.00")]
    assert all(row["as_of"] == "2021-10-15" and row["computed_at"] for row in prefectures + tasks + departments)
    assert [(row["task"]["code"], row["completion"]) for row in tasks] == [("T4", "42.50")]
    # The department leads T4.2 only: chenghua 60, jiangyang 0
    assert [(row["department"]["code"], row["completion"]) for row in departments] == [("big-data-centre", "30.00")]


def test_a_prefecture_office_sees_its_prefecture_and_the_province_only(world):
    office = world["chengdu_office"]

    prefectures = office.get("/api/v1/completion/prefectures/").json()["results"]
    assert [row["prefecture"]["code"] for row in prefectures] == ["510100"]
    assert office.get("/api/v1/completion/province/").json()["completion"] == "42.50"
    assert office.get("/api/v1/completion/prefectures/", {"prefecture": "510500"}).json()["count"] == 0
    assert office.get(f"/api/v1/pilots/{world['chenghua'].pk}/completion/").status_code == 200
    foreign = office.get(f"/api/v1/pilots/{world['jiangyang'].pk}/completion/")
    assert foreign.status_code == 404
    history = office.get("/api/v1/completion/history/", {"scope": "prefecture", "id": world["luzhou"].pk})
    assert history.json()["count"] == 0
    # Another prefecture's pilot is absent for the office: naming it is naming nothing (400 on `id`).
    history = office.get("/api/v1/completion/history/", {"scope": "pilot", "id": world["jiangyang"].pk})
    assert history.status_code == 400 and error_fields(history) == {"id"}


def test_a_list_rejects_an_unknown_parameter_and_a_bad_boolean(world):
    viewer = world["viewer"]

    unknown = viewer.get("/api/v1/completion/prefectures/", {"prefecure": "510100"})
    bad = viewer.get("/api/v1/completion/tasks/", {"real_only": "yes please"})
    no_search = viewer.get("/api/v1/completion/departments/", {"search": "data"})

    assert unknown.status_code == 400 and error_fields(unknown) == {"prefecure"}
    assert unknown.json()["errors"][0]["code"] == "unknown_parameter"
    assert bad.status_code == 400 and error_fields(bad) == {"real_only"}
    assert no_search.status_code == 400


# --- One pilot ------------------------------------------------------------------------------------------

def test_a_pilots_completion_by_task_and_subtask(world):
    body = world["viewer"].get(f"/api/v1/pilots/{world['chenghua'].pk}/completion/").json()

    assert body["pilot"]["code"] == "510108"
    assert body["state"] == "designated"
    assert body["figures"]["completion"] == "60.00" and body["figures"]["as_of"] == "2021-10-15"
    assert body["forecast"] == {"projected_completion_date": "2022-04-01", "status": "projected",
                                "goal_deadline": "2022-12-31", "complete_by_goal": True}
    [task] = body["tasks"]
    assert task["task"]["code"] == "T4" and task["figures"]["completion"] == "60.00"
    online, livelihood = task["subtasks"]
    assert online["subtask"]["code"] == "T4.1"
    assert (online["approved_percent"], online["approved_period"]) == ("60.00", "2021Q3")
    assert (online["pending_percent"], online["pending_period"]) == ("70.00", "2021Q4")
    assert (online["planned_percent"], online["variance"], online["schedule_status"]) == ("59.08", "0.92",
                                                                                            "on_track")
    assert (online["no_report"], online["stalled"], online["ahead_of_plan"]) == (False, False, False)
    assert online["as_of"] == "2021-10-15" and online["computed_at"]
    assert livelihood["planned_percent"] is None and livelihood["schedule_status"] is None


def test_a_pilots_completion_as_of_an_earlier_date(world):
    body = world["viewer"].get(f"/api/v1/pilots/{world['chenghua'].pk}/completion/",
                               {"as_of": "2021-07-06"}).json()

    assert body["figures"]["completion"] == "20.00"
    assert body["tasks"][0]["subtasks"][0]["pending_percent"] == "40.00"  # Q2 submitted, not reviewed yet


def test_a_pilot_with_nothing_computed_and_an_unknown_parameter(world):
    newcomer = PilotFactory(programme=world["programme"], prefecture=world["chengdu"], code="510104")
    viewer = world["viewer"]

    assert viewer.get(f"/api/v1/pilots/{newcomer.pk}/completion/").status_code == 404
    response = viewer.get(f"/api/v1/pilots/{world['chenghua'].pk}/completion/", {"scope": "pilot"})
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "unknown_parameter"


# --- History and reporting rates ------------------------------------------------------------------------

def test_history_of_a_scope_between_two_dates(world):
    viewer = world["viewer"]

    province = viewer.get("/api/v1/completion/history/", {"scope": "province"}).json()["results"]
    chengdu = viewer.get("/api/v1/completion/history/", {
        "scope": "prefecture", "id": world["chengdu"].pk, "from": "2021-07-01", "to": "2021-07-31"}).json()
    missing_id = viewer.get("/api/v1/completion/history/", {"scope": "task"})
    no_scope = viewer.get("/api/v1/completion/history/")

    assert [(row["as_of"], row["completion"]) for row in province] == [("2021-07-06", "10.00"),
                                                                        ("2021-10-15", "42.50")]
    assert province[0]["scope"] == "province" and province[0]["id"] == world["programme"].pk
    assert [row["as_of"] for row in chengdu["results"]] == ["2021-07-06"]
    assert missing_id.status_code == 400 and error_fields(missing_id) == {"id"}
    assert no_scope.status_code == 400 and error_fields(no_scope) == {"scope"}


@pytest.mark.parametrize("scope", ["province", "prefecture", "task", "department", "pilot"])
def test_each_scopes_history_lists_its_dates(world, scope):
    ids = {"province": None, "prefecture": world["chengdu"].pk, "task": world["task"].pk,
           "department": world["big_data"].pk, "pilot": world["chenghua"].pk}

    rows = world["viewer"].get("/api/v1/completion/history/", {"scope": scope, "id": ids[scope] or ""}).json()

    assert [(row["scope"], row["as_of"]) for row in rows["results"]] == [(scope, "2021-07-06"), (scope, "2021-10-15")]


def test_reporting_rates_for_one_period(world):
    viewer, office = world["viewer"], world["chengdu_office"]

    rows = viewer.get("/api/v1/completion/reporting-rates/", {"period": "2021Q3"}).json()["results"]
    own = office.get("/api/v1/completion/reporting-rates/", {"period": "2021Q3"}).json()["results"]
    bad = viewer.get("/api/v1/completion/reporting-rates/", {"period": "2021-Q3"})

    assert [(r["scope"], r["prefecture"] and r["prefecture"]["code"], r["expected"], r["received"]) for r in rows] == [
        ("province", None, 4, 3), ("prefecture", "510100", 2, 2), ("prefecture", "510500", 2, 1)]
    assert rows[0]["received_share"] == "0.7500" and rows[0]["deadline"] == "2021-10-11"
    assert all(r["as_of"] == "2021-10-15" and r["computed_at"] for r in rows)
    assert [r["scope"] for r in own] == ["province", "prefecture"]
    assert own[1]["prefecture"]["code"] == "510100"
    assert bad.status_code == 400 and error_fields(bad) == {"period"}


def test_demo_figures_carry_the_demo_label(world):
    demo = PilotFactory(programme=world["programme"], prefecture=world["chengdu"], code="510112", is_demo=True)
    report(demo, world["online"], "2021Q3", "50", is_demo=True)
    completion_recompute_all(as_of=AS_OF)

    everything = world["viewer"].get("/api/v1/completion/province/").json()
    real = world["viewer"].get("/api/v1/completion/province/", {"real_only": "true"}).json()
    pilot = world["viewer"].get(f"/api/v1/pilots/{demo.pk}/completion/").json()

    assert everything["demo_label"]["zh"] and everything["demo_pilot_count"] == 1
    assert real["demo_label"] is None and real["pilot_count"] == 2
    assert pilot["pilot"]["is_demo"] is True and pilot["figures"]["demo_label"]


def test_the_api_reads_stored_rows_only(world, django_assert_max_num_queries):
    CompletionRollup.objects.filter(scope="province", as_of=AS_OF, real_only=False).update(completion=Decimal(1))

    with django_assert_max_num_queries(8):
        body = world["viewer"].get("/api/v1/completion/province/").json()

    assert body["completion"] == "1.00"  # what is stored, not recomputed from reports


def test_a_department_reads_the_sub_tasks_it_takes_part_in(world):
    department = world["department"]

    assert department.get("/api/v1/completion/departments/").json()["count"] == 1
    body = department.get(f"/api/v1/pilots/{world['chenghua'].pk}/completion/").json()
    assert [row["subtask"]["code"] for row in body["tasks"][0]["subtasks"]] == ["T4.2"]
    assert body["figures"]["completion"] == "60.00"  # the pilot's overall figure, as everyone reads it
