"""Prefecture offices plan their pilots per sub-task, with dated milestones; the province can plan any."""

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pilots.models import Milestone, Organisation, Pilot, PlanItem
from tasks_app.models import SubTaskDepartment
from smartcity.models import AuditEntry
from tests.factories import (
    OrganisationFactory,
    PilotFactory,
    PrefectureFactory,
    SubTaskDepartmentFactory,
    SubTaskFactory,
    TaskFactory,
    member,
)
from tests.helpers import client_for, error_fields

pytestmark = pytest.mark.django_db

PLANS = "/api/v1/plans/"
MILESTONES = "/api/v1/milestones/"
MISSING = object()  # an override that leaves the field out of the request


@pytest.fixture
def world():
    task = TaskFactory(code="T4")
    online_services = SubTaskFactory(task=task, code="T4.1", name_zh="优化“互联网+政务服务”", order=1)
    livelihood = SubTaskFactory(task=task, code="T4.2", name_zh="升级智慧民生综合应用", order=2)
    foreign_subtask = SubTaskFactory(code="T9.1")  # of another programme
    chengdu = PrefectureFactory(code="510100", name_zh="成都市")
    luzhou = PrefectureFactory(code="510500", name_zh="泸州市")
    chenghua = PilotFactory(programme=task.programme, prefecture=chengdu, code="510108", name_zh="成都市成华区",
                            construction_start=dt.date(2021, 1, 22), construction_end=dt.date(2022, 12, 31))
    jiangyang = PilotFactory(programme=task.programme, prefecture=luzhou, code="510502", name_zh="泸州市江阳区")
    province = OrganisationFactory(code="province")
    assignment = SubTaskDepartmentFactory(subtask=livelihood)
    # The department leads T4.2 and takes part in T4.1, so it reads T4.1's plans.
    SubTaskDepartmentFactory(subtask=online_services, department=assignment.department, role="participant")
    return {
        "T4.1": online_services, "T4.2": livelihood, "T9.1": foreign_subtask,
        "chenghua": chenghua, "jiangyang": jiangyang,
        "chengdu_office": client_for(member("reporter", OrganisationFactory(kind="prefecture", prefecture=chengdu)),
                                     can_write=True),
        "luzhou_office": client_for(member("reporter", OrganisationFactory(kind="prefecture", prefecture=luzhou)),
                                    can_write=True),
        "reviewer": client_for(member("reviewer", province), can_write=True),
        "admin": client_for(member("admin", province), can_write=True),
        "viewer": client_for(member("viewer", province)),
        "integrator": client_for(member("integrator")),
        "department": client_for(member("viewer", OrganisationFactory(kind="department",
                                                                      department=assignment.department))),
    }


def plan(world, subtask="T4.1", pilot="chenghua", **overrides):
    body = {"pilot": world[pilot].pk if pilot in world else pilot, "subtask": world[subtask].pk if subtask in world else subtask,
            "description": "建成区级政务服务“一网通办”平台二期,事项网上可办率达到95%。",
            "kpi_name": "政务服务事项网上可办率", "kpi_unit": "%", "kpi_target": "95.00",
            "planned_investment": "1800.00", "responsible_unit": "成华区大数据中心"}
    body |= overrides
    return {key: value for key, value in body.items() if value is not MISSING}


def create_plan(world, client_key="chengdu_office", **overrides):
    response = world[client_key].post(PLANS, plan(world, **overrides), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def milestone(item, title="完成方案设计与招标", due_on="2021-06-30", target_percent="30.0", **overrides):
    body = {"plan_item": item["id"], "title": title, "due_on": due_on, "target_percent": target_percent}
    body |= overrides
    return {key: value for key, value in body.items() if value is not MISSING}


def add_milestone(world, plan_item, client_key="chengdu_office", **fields):
    response = world[client_key].post(MILESTONES, milestone(plan_item, **fields), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def planned_with_milestones(world, **overrides):
    """A plan item with three milestones: 30% by mid-2021, 70% by mid-2022, 100% at the end."""
    item = create_plan(world, **overrides)
    add_milestone(world, item, title="完成方案设计与招标", due_on="2021-06-30", target_percent="30.0")
    add_milestone(world, item, title="主体建设完成", due_on="2022-06-30", target_percent="70.0")
    add_milestone(world, item, title="通过验收", due_on="2022-12-31", target_percent="100.0")
    return item


def written():
    """What a refused request must leave untouched."""
    return PlanItem.objects.count(), Milestone.objects.count(), AuditEntry.objects.count()


# --- The happy path ---------------------------------------------------------------------------

def test_a_prefecture_office_plans_a_pilot_with_three_milestones(world):
    office = world["chengdu_office"]
    item = create_plan(world)
    add_milestone(world, item, title="通过验收", due_on="2022-12-31", target_percent="100.0")
    add_milestone(world, item, title="完成方案设计与招标", due_on="2021-06-30", target_percent="30.0")
    add_milestone(world, item, title="主体建设完成", due_on="2022-06-30", target_percent="70.0")

    detail = office.get(f"{PLANS}{item['id']}/")

    assert detail.status_code == 200
    body = detail.json()
    assert detail["ETag"] == body["etag"] == f'"{item["id"]}.1"'
    assert (body["pilot"]["code"], body["subtask"]["code"], body["planned_investment"]) == ("510108", "T4.1", "1800.00")
    assert [(m["due_on"], m["target_percent"]) for m in body["milestones"]] == [
        ("2021-06-30", "30.0"), ("2022-06-30", "70.0"), ("2022-12-31", "100.0")]
    assert body["is_demo"] is False and body["demo_label"] is None
    created = AuditEntry.objects.filter(action="create", object_type__in=["pilots.planitem", "pilots.milestone"])
    assert sorted(created.values_list("object_type", flat=True)) == [
        "pilots.milestone", "pilots.milestone", "pilots.milestone", "pilots.planitem"]
    assert created.get(object_type="pilots.planitem").after["planned_investment"] == "1800.00"


def test_the_office_edits_its_plan_with_if_match_and_the_edit_is_audited(world):
    item = planned_with_milestones(world)
    office = world["chengdu_office"]
    etag = office.get(f"{PLANS}{item['id']}/")["ETag"]

    edited = office.patch(f"{PLANS}{item['id']}/", {"planned_investment": "2100.00", "kpi_target": "98.00"},
                          format="json", HTTP_IF_MATCH=etag)

    assert edited.status_code == 200, edited.json()
    assert edited.json()["planned_investment"] == "2100.00" and edited.json()["description"] == item["description"]
    assert edited["ETag"] == f'"{item["id"]}.2"' and len(edited.json()["milestones"]) == 3
    entry = AuditEntry.objects.get(object_type="pilots.planitem", action="update")
    assert (entry.before["planned_investment"], entry.after["planned_investment"]) == ("1800.00", "2100.00")
    assert entry.via == "token" and entry.token_prefix.startswith("sct_")


def test_a_milestone_is_moved_with_if_match(world):
    item = planned_with_milestones(world)
    office = world["chengdu_office"]
    first = office.get(MILESTONES, {"plan_item": item["id"]}).json()["results"][0]
    etag = office.get(f"{MILESTONES}{first['id']}/")["ETag"]

    moved = office.patch(f"{MILESTONES}{first['id']}/", {"due_on": "2021-07-31", "title": "完成招标"},
                         format="json", HTTP_IF_MATCH=etag)

    assert moved.status_code == 200, moved.json()
    assert (moved.json()["due_on"], moved.json()["title"], moved.json()["etag"]) == (
        "2021-07-31", "完成招标", f'"{first["id"]}.2"')
    entry = AuditEntry.objects.get(object_type="pilots.milestone", action="update")
    assert (entry.before["due_on"], entry.after["due_on"]) == ("2021-06-30", "2021-07-31")


def test_deleting_a_plan_item_deletes_its_milestones_and_audits_each(world):
    item = planned_with_milestones(world)
    office = world["chengdu_office"]
    etag = office.get(f"{PLANS}{item['id']}/")["ETag"]

    response = office.delete(f"{PLANS}{item['id']}/", HTTP_IF_MATCH=etag)

    assert response.status_code == 204
    assert (PlanItem.objects.count(), Milestone.objects.count()) == (0, 0)
    deleted = AuditEntry.objects.filter(action="delete")
    assert sorted(deleted.values_list("object_type", flat=True)) == [
        "pilots.milestone", "pilots.milestone", "pilots.milestone", "pilots.planitem"]
    assert all(entry.after is None and entry.before for entry in deleted)


def test_a_milestone_is_deleted_with_if_match(world):
    item = planned_with_milestones(world)
    office = world["chengdu_office"]
    last = office.get(MILESTONES, {"plan_item": item["id"], "ordering": "-due_on"}).json()["results"][0]

    assert office.delete(f"{MILESTONES}{last['id']}/").status_code == 428
    response = office.delete(f"{MILESTONES}{last['id']}/", HTTP_IF_MATCH=last["etag"])

    assert response.status_code == 204
    assert list(Milestone.objects.values_list("due_on", flat=True)) == [dt.date(2021, 6, 30), dt.date(2022, 6, 30)]


# --- Lost updates and safe retries ------------------------------------------------------------

def test_two_people_edit_the_same_plan_and_the_second_is_told(world):
    item = create_plan(world)
    office = world["chengdu_office"]
    colleague = client_for(member("reporter", Organisation.objects.get(prefecture__code="510100")), can_write=True)
    seen_by_both = office.get(f"{PLANS}{item['id']}/")["ETag"]

    first = office.patch(f"{PLANS}{item['id']}/", {"planned_investment": "2000.00"}, format="json",
                         HTTP_IF_MATCH=seen_by_both)
    before = written()
    second = colleague.patch(f"{PLANS}{item['id']}/", {"planned_investment": "2500.00"}, format="json",
                             HTTP_IF_MATCH=seen_by_both)
    stale_delete = colleague.delete(f"{PLANS}{item['id']}/", HTTP_IF_MATCH=seen_by_both)

    assert first.status_code == 200
    assert second.status_code == 412 and second.json()["code"] == "precondition_failed"
    assert stale_delete.status_code == 412
    assert written() == before
    assert str(PlanItem.objects.get(pk=item["id"]).planned_investment) == "2000.00"


def test_a_stale_milestone_edit_is_refused(world):
    item = planned_with_milestones(world)
    office = world["chengdu_office"]
    first = office.get(MILESTONES, {"plan_item": item["id"]}).json()["results"][0]
    office.patch(f"{MILESTONES}{first['id']}/", {"title": "完成招标"}, format="json", HTTP_IF_MATCH=first["etag"])

    stale = office.patch(f"{MILESTONES}{first['id']}/", {"target_percent": "35.0"}, format="json",
                         HTTP_IF_MATCH=first["etag"])

    assert stale.status_code == 412
    assert str(Milestone.objects.get(pk=first["id"]).target_percent) == "30.0"


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_a_change_without_if_match_is_refused(world, method):
    item = create_plan(world)
    before = written()

    response = getattr(world["chengdu_office"], method)(f"{PLANS}{item['id']}/", {"kpi_name": "x"}, format="json")

    assert response.status_code == 428 and response.json()["code"] == "if_match_required"
    assert written() == before


def test_a_retry_with_the_same_idempotency_key_creates_one_plan_item(world):
    office, key = world["chengdu_office"], str(uuid.uuid4())

    first = office.post(PLANS, plan(world), format="json", HTTP_IDEMPOTENCY_KEY=key)
    retry = office.post(PLANS, plan(world), format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true" and retry["ETag"] == first["ETag"]
    assert PlanItem.objects.count() == 1
    assert AuditEntry.objects.filter(object_type="pilots.planitem").count() == 1


# --- Scope and roles --------------------------------------------------------------------------

def test_another_prefecture_cannot_see_or_touch_the_plan(world):
    item = planned_with_milestones(world)
    luzhou = world["luzhou_office"]
    path = f"{PLANS}{item['id']}/"
    a_milestone = Milestone.objects.first()
    before = written()

    assert luzhou.get(PLANS).json()["count"] == 0
    assert luzhou.get(MILESTONES).json()["count"] == 0
    assert luzhou.get(path).status_code == 404
    assert luzhou.patch(path, {"kpi_name": "x"}, format="json", HTTP_IF_MATCH=item["etag"]).status_code == 404
    assert luzhou.delete(path, HTTP_IF_MATCH=item["etag"]).status_code == 404
    assert luzhou.get(f"{MILESTONES}{a_milestone.pk}/").status_code == 404
    assert luzhou.patch(f"{MILESTONES}{a_milestone.pk}/", {"title": "x"}, format="json",
                        HTTP_IF_MATCH=a_milestone.etag).status_code == 404
    assert luzhou.delete(f"{MILESTONES}{a_milestone.pk}/", HTTP_IF_MATCH=a_milestone.etag).status_code == 404
    foreign_plan = luzhou.post(PLANS, plan(world, subtask="T4.2"), format="json")
    assert foreign_plan.status_code == 400 and error_fields(foreign_plan) == {"pilot"}
    foreign_milestone = luzhou.post(MILESTONES, milestone(item, due_on="2021-09-30", target_percent="40.0"),
                                    format="json")
    assert foreign_milestone.status_code == 400 and error_fields(foreign_milestone) == {"plan_item"}
    assert written() == before


@pytest.mark.parametrize("who", ["reviewer", "admin"])
def test_the_province_manages_any_pilots_plan(world, who):
    item = planned_with_milestones(world)
    province = world[who]

    edited = province.patch(f"{PLANS}{item['id']}/", {"responsible_unit": "成华区政务服务管理局"}, format="json",
                            HTTP_IF_MATCH=province.get(f"{PLANS}{item['id']}/")["ETag"])
    luzhou_plan = create_plan(world, client_key=who, pilot="jiangyang")
    added = add_milestone(world, luzhou_plan, client_key=who, due_on="2021-12-31", target_percent="20.0")

    assert edited.status_code == 200 and edited.json()["responsible_unit"] == "成华区政务服务管理局"
    assert luzhou_plan["pilot"]["code"] == "510502" and added["pilot"] == world["jiangyang"].pk
    assert province.delete(f"{PLANS}{item['id']}/", HTTP_IF_MATCH=edited["ETag"]).status_code == 204


def test_a_department_does_not_see_plans_of_sub_tasks_it_has_no_part_in(world):
    planned_with_milestones(world)
    SubTaskDepartment.objects.filter(subtask=world["T4.1"], role="participant").delete()

    assert world["department"].get(PLANS).json()["count"] == 0
    assert world["department"].get(MILESTONES).json()["count"] == 0


@pytest.mark.parametrize("who", ["viewer", "integrator", "department", "read_only_reporter"])
def test_readers_read_plans_but_change_nothing(world, who):
    item = planned_with_milestones(world)
    if who == "read_only_reporter":
        client = client_for(member("reporter", Organisation.objects.get(prefecture__code="510100")), can_write=False)
    else:
        client = world[who]
    a_milestone = Milestone.objects.first()
    before = written()

    assert client.get(PLANS).json()["count"] == 1
    assert client.get(f"{PLANS}{item['id']}/").status_code == 200
    responses = [
        client.post(PLANS, plan(world, subtask="T4.2"), format="json", HTTP_ACCEPT_LANGUAGE="en"),
        client.patch(f"{PLANS}{item['id']}/", {"kpi_name": "x"}, format="json", HTTP_IF_MATCH=item["etag"]),
        client.delete(f"{PLANS}{item['id']}/", HTTP_IF_MATCH=item["etag"]),
        client.post(MILESTONES, milestone(item, due_on="2021-09-30", target_percent="40.0"), format="json"),
        client.patch(f"{MILESTONES}{a_milestone.pk}/", {"title": "x"}, format="json", HTTP_IF_MATCH=a_milestone.etag),
        client.delete(f"{MILESTONES}{a_milestone.pk}/", HTTP_IF_MATCH=a_milestone.etag),
    ]

    assert [r.status_code for r in responses] == [403] * 6
    if who == "read_only_reporter":
        assert responses[0].json()["detail"] == "This token is read-only."
    assert written() == before


def test_there_is_no_put(world):
    item = create_plan(world)

    response = world["chengdu_office"].put(f"{PLANS}{item['id']}/", plan(world), format="json",
                                           HTTP_IF_MATCH=item["etag"])

    assert response.status_code == 405


# --- Rules: each bad input names its field and writes nothing ---------------------------------

@pytest.mark.parametrize(
    "overrides, field",
    [
        ({}, None),
        ({"kpi_name": MISSING, "kpi_unit": MISSING, "kpi_target": MISSING, "planned_investment": MISSING,
          "responsible_unit": MISSING}, None),  # only the description is required
        ({"planned_investment": "0"}, None),
        ({"description": MISSING}, "description"),
        ({"description": ""}, "description"),
        ({"description": "   "}, "description"),
        ({"planned_investment": "-0.01"}, "planned_investment"),
        ({"planned_investment": "12.345"}, "planned_investment"),
        ({"kpi_target": "lots"}, "kpi_target"),
        ({"kpi_name": "指" * 201}, "kpi_name"),
        ({"responsible_unit": "单" * 201}, "responsible_unit"),
        ({"subtask": "T9.1"}, "subtask"),  # another programme's sub-task
        ({"subtask": 999999}, "subtask"),
        ({"subtask": MISSING}, "subtask"),
        ({"pilot": 999999}, "pilot"),
        ({"pilot": MISSING}, "pilot"),
    ],
)
def test_a_rule_breaking_plan_item_is_refused_naming_the_field(world, overrides, field):
    before = written()

    response = world["chengdu_office"].post(PLANS, plan(world, **overrides), format="json")

    if field is None:
        assert response.status_code == 201, response.json()
        return
    assert response.status_code == 400, response.json()
    assert error_fields(response) == {field}
    assert written() == before


def test_a_second_plan_item_for_the_same_subtask_is_refused(world):
    first = create_plan(world)
    before = written()

    response = world["chengdu_office"].post(PLANS, plan(world, description="另一个计划"), format="json")

    assert response.status_code == 400 and error_fields(response) == {"subtask"}
    assert str(first["id"]) in response.json()["errors"][0]["message"]
    assert written() == before


def test_a_rule_breaking_plan_edit_changes_nothing(world):
    item = create_plan(world)
    before = written()

    response = world["chengdu_office"].patch(f"{PLANS}{item['id']}/", {"planned_investment": "-5", "kpi_name": "新"},
                                             format="json", HTTP_IF_MATCH=item["etag"])

    assert response.status_code == 400 and error_fields(response) == {"planned_investment"}
    assert written() == before
    assert PlanItem.objects.get(pk=item["id"]).version == 1


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"due_on": "2021-09-30", "target_percent": "50.0"}, None),
        ({"due_on": "2021-09-30", "target_percent": "30.0"}, None),  # equal to the earlier target: fine
        ({"due_on": "2022-12-31", "target_percent": "100.0"}, None),  # the last day of construction
        ({"due_on": "2021-01-22", "target_percent": "0"}, None),  # the first day
        ({"due_on": "2021-01-21", "target_percent": "5.0"}, "due_on"),  # before construction starts
        ({"due_on": "2023-01-01", "target_percent": "100.0"}, "due_on"),  # after it ends
        ({"due_on": "2021-06-30", "target_percent": "30.0"}, "due_on"),  # a second one on that day
        ({"due_on": "2021-13-01"}, "due_on"),
        ({"due_on": MISSING}, "due_on"),
        ({"due_on": "2021-09-30", "target_percent": "25.0"}, "target_percent"),  # lower than the earlier one
        ({"due_on": "2021-09-30", "target_percent": "75.0"}, "target_percent"),  # higher than the later one
        ({"due_on": "2021-09-30", "target_percent": "100.5"}, "target_percent"),
        ({"due_on": "2021-09-30", "target_percent": "-1"}, "target_percent"),
        ({"due_on": "2021-09-30", "target_percent": "45.25"}, "target_percent"),
        ({"due_on": "2021-09-30", "target_percent": MISSING}, "target_percent"),
        ({"due_on": "2021-09-30", "target_percent": "45.0", "title": ""}, "title"),
        ({"due_on": "2021-09-30", "target_percent": "45.0", "title": "题" * 201}, "title"),
        ({"due_on": "2021-09-30", "target_percent": "45.0", "plan_item": 999999}, "plan_item"),
    ],
)
def test_a_rule_breaking_milestone_is_refused_naming_the_field(world, fields, field):
    item = create_plan(world)
    add_milestone(world, item, title="完成方案设计与招标", due_on="2021-06-30", target_percent="30.0")
    add_milestone(world, item, title="主体建设完成", due_on="2022-06-30", target_percent="70.0")
    before = written()

    response = world["chengdu_office"].post(MILESTONES, milestone(item, **fields), format="json")

    if field is None:
        assert response.status_code == 201, response.json()
        return
    assert response.status_code == 400, response.json()
    assert error_fields(response) == {field}
    assert written() == before


@pytest.mark.parametrize("target, neighbour", [("25.0", "完成方案设计与招标"), ("75.0", "主体建设完成")])
def test_a_decreasing_target_names_the_neighbouring_milestone(world, target, neighbour):
    item = create_plan(world)
    add_milestone(world, item, title="完成方案设计与招标", due_on="2021-06-30", target_percent="30.0")
    add_milestone(world, item, title="主体建设完成", due_on="2022-06-30", target_percent="70.0")

    response = world["chengdu_office"].post(MILESTONES, milestone(item, title="平台上线", due_on="2021-12-31",
                                                                  target_percent=target), format="json")

    assert response.status_code == 400 and error_fields(response) == {"target_percent"}
    assert neighbour in response.json()["errors"][0]["message"]


def test_moving_a_milestone_past_a_higher_one_is_refused_and_changes_nothing(world):
    item = planned_with_milestones(world)
    office = world["chengdu_office"]
    first = office.get(MILESTONES, {"plan_item": item["id"]}).json()["results"][0]
    before = written()

    late = office.patch(f"{MILESTONES}{first['id']}/", {"due_on": "2022-09-30"}, format="json",
                        HTTP_IF_MATCH=first["etag"])
    clash = office.patch(f"{MILESTONES}{first['id']}/", {"due_on": "2022-06-30"}, format="json",
                         HTTP_IF_MATCH=first["etag"])
    outside = office.patch(f"{MILESTONES}{first['id']}/", {"due_on": "2020-12-31"}, format="json",
                           HTTP_IF_MATCH=first["etag"])

    assert late.status_code == 400 and error_fields(late) == {"target_percent"}
    assert "主体建设完成" in late.json()["errors"][0]["message"]
    assert clash.status_code == 400 and error_fields(clash) == {"due_on"}
    assert outside.status_code == 400 and error_fields(outside) == {"due_on"}
    assert written() == before
    assert Milestone.objects.get(pk=first["id"]).version == 1


def test_a_revoked_pilots_plan_no_longer_changes(world):
    item = planned_with_milestones(world)
    Pilot.objects.filter(pk=world["chenghua"].pk).update(state=Pilot.State.REVOKED)
    office = world["chengdu_office"]
    before = written()

    new_plan = office.post(PLANS, plan(world, subtask="T4.2"), format="json")
    new_milestone = office.post(MILESTONES, milestone(item, due_on="2021-09-30", target_percent="40.0"), format="json")
    edit = office.patch(f"{PLANS}{item['id']}/", {"kpi_name": "新"}, format="json", HTTP_IF_MATCH=item["etag"])

    assert new_plan.status_code == 400 and error_fields(new_plan) == {"pilot"}
    assert new_milestone.status_code == 400 and error_fields(new_milestone) == {"plan_item"}
    assert edit.status_code == 409
    assert written() == before


# --- Listing ----------------------------------------------------------------------------------

@pytest.fixture
def three_plans(world):
    planned_with_milestones(world)
    create_plan(world, subtask="T4.2")
    demo = PilotFactory(programme=world["jiangyang"].programme, prefecture=world["jiangyang"].prefecture,
                        code="510521", is_demo=True)
    luzhou = create_plan(world, client_key="reviewer", pilot="jiangyang", subtask="T4.2")
    add_milestone(world, luzhou, client_key="reviewer", due_on="2022-03-31", target_percent="50.0")
    world["demo"] = demo
    return world


@pytest.mark.parametrize(
    "params, expected",
    [
        ({}, 3),
        ({"prefecture": "510100"}, 2),
        ({"prefecture": "510500"}, 1),
        ({"subtask": "T4.2"}, 2),
        ({"task": "T4"}, 3),
        ({"demo": "true"}, 0),
        ({"demo": "false"}, 3),
        ({"search": "成华区大数据中心"}, 3),
    ],
)
def test_plans_are_filtered(three_plans, params, expected):
    assert three_plans["viewer"].get(PLANS, params).json()["count"] == expected


def test_a_task_that_does_not_exist_is_a_400_not_an_empty_list(three_plans):
    response = three_plans["viewer"].get(PLANS, {"task": "T5"})
    assert response.status_code == 400 and error_fields(response) == {"task"}


def test_plans_are_filtered_by_pilot(three_plans):
    results = three_plans["viewer"].get(PLANS, {"pilot": three_plans["jiangyang"].pk}).json()["results"]

    assert [(p["pilot"]["code"], p["subtask"]["code"]) for p in results] == [("510502", "T4.2")]


def test_a_demo_pilots_plan_is_demo_data(three_plans):
    item = create_plan(three_plans, client_key="reviewer", pilot="demo")

    assert item["is_demo"] is True and item["demo_label"]["zh"].startswith("演示数据")
    assert three_plans["viewer"].get(PLANS, {"demo": "true"}).json()["count"] == 1


@pytest.mark.parametrize(
    "params, expected",
    [
        ({}, 4),
        ({"due_from": "2022-01-01"}, 3),
        ({"due_to": "2021-12-31"}, 1),
        ({"due_from": "2022-01-01", "due_to": "2022-06-30"}, 2),
    ],
)
def test_milestones_are_filtered_by_date(three_plans, params, expected):
    assert three_plans["viewer"].get(MILESTONES, params).json()["count"] == expected


def test_milestones_are_filtered_by_pilot_and_plan_item(three_plans):
    viewer, chenghua = three_plans["viewer"], three_plans["chenghua"]
    by_pilot = viewer.get(MILESTONES, {"pilot": chenghua.pk}).json()["results"]
    plan_item = PlanItem.objects.get(pilot=chenghua, subtask__code="T4.1")

    assert [m["due_on"] for m in by_pilot] == ["2021-06-30", "2022-06-30", "2022-12-31"]
    assert {m["subtask"] for m in by_pilot} == {"T4.1"}
    assert viewer.get(MILESTONES, {"plan_item": plan_item.pk}).json()["count"] == 3


@pytest.mark.parametrize("url, params, field", [
    (PLANS, {"pilots": "1"}, "pilots"),
    (MILESTONES, {"due_from": "soon"}, "due_from"),
    (MILESTONES, {"due": "2021-01-01"}, "due"),
])
def test_a_bad_filter_names_itself(world, url, params, field):
    response = world["viewer"].get(url, params)

    assert response.status_code == 400 and error_fields(response) == {field}


@pytest.mark.parametrize("url, few_rows, many_rows", [(PLANS, 1, 3), (MILESTONES, 3, 7)])
def test_listing_costs_the_same_queries_for_one_row_or_many(world, url, few_rows, many_rows):
    viewer = world["viewer"]
    viewer.get(url)  # the token's first use records last_used_at; measure the steady state
    planned_with_milestones(world)
    with CaptureQueriesContext(connection) as few:
        assert viewer.get(url, {"page_size": 100}).json()["count"] == few_rows
    more = planned_with_milestones(world, subtask="T4.2")
    add_milestone(world, more, due_on="2021-09-30", target_percent="40.0")
    create_plan(world, client_key="reviewer", pilot="jiangyang")

    with CaptureQueriesContext(connection) as many:
        assert viewer.get(url, {"page_size": 100}).json()["count"] == many_rows

    assert len(many) == len(few)


def test_showing_a_plan_item_costs_the_same_queries_for_one_milestone_or_many(world):
    viewer = world["viewer"]
    item = create_plan(world)
    add_milestone(world, item)
    viewer.get(f"{PLANS}{item['id']}/")
    with CaptureQueriesContext(connection) as one:
        viewer.get(f"{PLANS}{item['id']}/")
    add_milestone(world, item, due_on="2022-06-30", target_percent="70.0")
    add_milestone(world, item, due_on="2022-12-31", target_percent="100.0")

    with CaptureQueriesContext(connection) as three:
        assert len(viewer.get(f"{PLANS}{item['id']}/").json()["milestones"]) == 3

    assert len(three) == len(one)
