"""The completion API's exact output: every read endpoint, as three kinds of caller, against a recorded copy.

The views build their JSON from ``.values()`` rows, not with the serializers (see ``pilots.api.completion``),
so field names and order, decimals as strings ("45.20"), nulls, dates, times and pagination must stay
byte-for-byte what the serializers produced, and keep the serializers' (the schema's) fields.
``completion_api_golden.txt`` was recorded with the serializers; the ids and names are fixed and the
recompute runs at fixed instants, so one file serves SQLite and PostgreSQL alike.

After an intended change of the output, rewrite the file with ``COMPLETION_GOLDEN_WRITE=1`` and review the diff.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from rest_framework import serializers

from pilots.api import completion as api
from pilots.models import Pilot, ProgressReport
from pilots.services.completion import completion_recompute_all
from tests.completion_helpers import SHANGHAI, at, designate, plan, report
from tests.factories import (
    DepartmentFactory,
    OrganisationFactory,
    PilotFactory,
    PrefectureFactory,
    ProgrammeFactory,
    SubTaskDepartmentFactory,
    SubTaskFactory,
    TaskFactory,
    member,
)
from tests.helpers import client_for

pytestmark = pytest.mark.django_db

GOLDEN = Path(__file__).with_name("completion_api_golden.txt")
AS_OF = dt.date(2021, 10, 15)
EARLIER = dt.date(2021, 7, 6)
State = ProgressReport.State
REQUEST_ID = re.compile(r'"request_id":"[0-9a-f]+"')


@pytest.fixture
def world():
    # Explicit ids and names: they appear in the output, and sequences differ from run to run.
    programme = ProgrammeFactory(id=701, code="golden-2021", goal_pilot_count=7, goal_deadline=dt.date(2022, 6, 30))
    # T2 is listed before T1 (order), and its sub-tasks by order, not code.
    t1 = TaskFactory(id=711, programme=programme, code="T1", order=2, name_zh="数字政府", name_en="Digital government")
    t2 = TaskFactory(id=712, programme=programme, code="T2", order=1, name_zh="惠民服务", name_en="Services “for all”")

    def subtask(pk, task, code, order, weight):
        return SubTaskFactory(id=pk, task=task, code=code, order=order, weight=Decimal(weight), name_zh=f"子任务{code}",
                              name_en=f"Sub-task {code}")

    s11, s12 = subtask(721, t1, "T1.1", 1, "1"), subtask(722, t1, "T1.2", 2, "2")
    s21, s22 = subtask(723, t2, "T2.1", 2, "1.5"), subtask(724, t2, "T2.2", 1, "1")
    data = DepartmentFactory(id=731, code="big-data", name_zh="大数据中心", name_en="Big Data Centre")
    economy = DepartmentFactory(id=732, code="economy", name_zh="经信厅", name_en="Economy")
    SubTaskDepartmentFactory(subtask=s12, department=data)
    SubTaskDepartmentFactory(subtask=s21, department=data)
    SubTaskDepartmentFactory(subtask=s22, department=economy)
    chengdu = PrefectureFactory(id=741, code="519100", name_zh="成都市", name_en="Chengdu")
    luzhou = PrefectureFactory(id=742, code="519500", name_zh="泸州市", name_en="Luzhou")
    PrefectureFactory(id=743, code="519700", name_zh="绵阳市", name_en="Mianyang")  # no pilot: no rollup row

    def pilot(pk, prefecture, code, **kwargs):
        return PilotFactory(id=pk, programme=programme, prefecture=prefecture, code=code, name_zh=f"试点{code}",
                            name_en=f"Pilot {code}", **kwargs)

    chenghua = pilot(751, chengdu, "519108")
    wuhou = pilot(752, chengdu, "519107")
    demo = pilot(753, chengdu, "519112", is_demo=True)
    jiangyang = pilot(754, luzhou, "519502")
    designate(chenghua, Pilot.State.UNDER_CONSTRUCTION)
    designate(jiangyang, Pilot.State.ACCEPTED, on=dt.date(2021, 9, 1))

    plan(chenghua, s11, (dt.date(2021, 6, 30), 30), (dt.date(2021, 12, 31), 80))
    plan(chenghua, s21, (dt.date(2021, 3, 31), 10), (dt.date(2021, 9, 30), 95))
    demo_plan = plan(chenghua, s12, (dt.date(2021, 12, 31), 50))
    demo_plan.is_demo = True  # counted only without real_only
    demo_plan.save()
    for period, percent in (("2021Q1", "20"), ("2021Q2", "40"), ("2021Q3", "60")):
        report(chenghua, s11, period, percent)
        report(chenghua, s12, period, percent)
    report(chenghua, s21, "2021Q2", "12.5")
    report(chenghua, s21, "2021Q3", "12.5")
    report(chenghua, s11, "2021Q4", "70", state=State.SUBMITTED, submitted=at(dt.date(2021, 10, 14)))
    report(wuhou, s22, "2021Q3", "33.3")
    report(jiangyang, s11, "2021Q3", "100")
    report(jiangyang, s22, "2021Q2", "99.9")
    report(demo, s11, "2021Q3", "50", is_demo=True)
    report(demo, s21, "2021Q2", "7", is_demo=True)

    # Fixed run instants (one with microseconds): computed_at is part of every row.
    with time_machine.travel(dt.datetime(2021, 7, 6, 23, 0, tzinfo=SHANGHAI), tick=False):
        completion_recompute_all(as_of=EARLIER)
    with time_machine.travel(dt.datetime(2021, 10, 15, 6, 30, 5, 123456, tzinfo=SHANGHAI), tick=False):
        completion_recompute_all(as_of=AS_OF)

    return {
        "programme": programme, "pilots": [chenghua, wuhou, demo, jiangyang], "chengdu": chengdu, "t1": t1,
        "data": data,
        "clients": {
            "province": client_for(member("viewer", OrganisationFactory(code="golden-province"))),
            "chengdu": client_for(member("reporter", OrganisationFactory(kind="prefecture", prefecture=chengdu))),
            "big-data": client_for(member("viewer", OrganisationFactory(kind="department", department=data))),
        },
    }


def _urls(world) -> list[str]:
    chenghua, wuhou, demo, jiangyang = (p.pk for p in world["pilots"])
    urls = [
        "/api/v1/completion/province/",
        "/api/v1/completion/province/?real_only=true",
        f"/api/v1/completion/province/?as_of={EARLIER}",
        "/api/v1/completion/province/?programme=golden-2021&real_only=false",
        "/api/v1/completion/prefectures/",
        "/api/v1/completion/prefectures/?real_only=true",
        f"/api/v1/completion/prefectures/?as_of={EARLIER}&programme=golden-2021",
        "/api/v1/completion/prefectures/?prefecture=519500",
        "/api/v1/completion/prefectures/?page_size=1&page=2",
        "/api/v1/completion/tasks/",
        "/api/v1/completion/tasks/?task=T1&real_only=true",
        "/api/v1/completion/departments/",
        f"/api/v1/completion/departments/?as_of={EARLIER}&department=economy",
        "/api/v1/completion/history/?scope=province",
        f"/api/v1/completion/history/?scope=prefecture&id={world['chengdu'].pk}&real_only=true",
        f"/api/v1/completion/history/?scope=task&id={world['t1'].pk}&from=2021-10-01",
        f"/api/v1/completion/history/?scope=department&id={world['data'].pk}&to=2021-07-31",
        f"/api/v1/completion/history/?scope=pilot&id={chenghua}&page_size=1",
        "/api/v1/completion/reporting-rates/",
        "/api/v1/completion/reporting-rates/?period=2021Q3&real_only=true",
        f"/api/v1/completion/reporting-rates/?prefecture=519500&as_of={EARLIER}",
        "/api/v1/completion/reporting-rates/?page_size=2&page=3",
    ]
    for pk in (chenghua, wuhou, demo, jiangyang):
        urls.append(f"/api/v1/pilots/{pk}/completion/")
    urls += [
        f"/api/v1/pilots/{chenghua}/completion/?real_only=true",
        f"/api/v1/pilots/{chenghua}/completion/?as_of={EARLIER}",
        f"/api/v1/pilots/{demo}/completion/?real_only=true",
    ]
    return urls


def _record(world) -> str:
    lines = []
    for caller, client in world["clients"].items():
        for url in _urls(world):
            response = client.get(url)
            body = REQUEST_ID.sub('"request_id":"…"', response.content.decode())  # random on every request
            lines.append(f"{caller} {url} {response.status_code}\n{body}\n")
    return "".join(lines)


def test_every_read_endpoint_answers_the_recorded_bytes(world):
    actual = _record(world)
    if os.environ.get("COMPLETION_GOLDEN_WRITE") == "1":
        GOLDEN.write_text(actual, encoding="utf-8")
    expected = GOLDEN.read_text(encoding="utf-8")

    # Request by request, so that a failure names the endpoint.
    for got, want in zip(actual.split("\n"), expected.split("\n"), strict=True):
        assert got == want


def _assert_shaped_like(value, serializer: serializers.BaseSerializer, where: str) -> None:
    """``value`` has the serializer's fields, in its order, all the way down (the schema describes the output)."""
    if value is None:
        return
    if isinstance(serializer, serializers.ListSerializer):
        for item in value:
            _assert_shaped_like(item, serializer.child, where)
        return
    assert list(value) == list(serializer.fields), where
    for name, field in serializer.fields.items():
        if isinstance(field, serializers.BaseSerializer):
            _assert_shaped_like(value[name], field, f"{where}.{name}")


def test_the_output_has_the_fields_of_the_schema_serializers(world):
    client = world["clients"]["province"]
    chenghua = world["pilots"][0]
    lists = {
        "prefectures/": api.PrefectureCompletionSerializer, "tasks/": api.TaskCompletionSerializer,
        "departments/": api.DepartmentCompletionSerializer, "history/?scope=province": api.CompletionHistorySerializer,
        "reporting-rates/": api.ReportingRateSerializer,
    }

    for path, serializer_class in lists.items():
        rows = client.get(f"/api/v1/completion/{path}").json()["results"]
        assert rows
        _assert_shaped_like(rows, serializer_class(many=True), path)
    _assert_shaped_like(client.get("/api/v1/completion/province/").json(), api.ProvinceCompletionSerializer(),
                        "province")
    pilot = client.get(f"/api/v1/pilots/{chenghua.pk}/completion/").json()
    assert pilot["tasks"] and all(task["subtasks"] for task in pilot["tasks"])
    _assert_shaped_like(pilot, api.PilotCompletionSerializer(), "pilot")


@pytest.mark.parametrize("value", [
    Decimal("45.20"), Decimal("45.2"), Decimal("7"), Decimal("0.00"), Decimal("-0.00"), Decimal("-18.15"),
    Decimal("100.00"), Decimal("1E+1"), Decimal("33.335"), Decimal("0.005"), 12, 12.5,
])
def test_a_percent_renders_as_the_decimal_field_renders_it(value):
    field = serializers.DecimalField(max_digits=6, decimal_places=2)

    assert api.Rendering().percent(value) == field.to_representation(value)


@pytest.mark.parametrize("value", [
    dt.datetime(2021, 10, 15, 6, 30, 5, 123456, tzinfo=SHANGHAI), dt.datetime(2021, 10, 14, 22, 30, tzinfo=dt.UTC),
])
def test_a_time_renders_as_the_datetime_field_renders_it(value):
    json = api.Rendering()

    assert json.time(value) == json.time(value) == serializers.DateTimeField().to_representation(value)


def test_the_hot_reads_take_few_queries(world, django_assert_num_queries):
    client = world["clients"]["big-data"]  # a department: the sub-task rows are scoped too
    chenghua = world["pilots"][0]
    client.get("/api/v1/completion/province/")  # the token's first use also records last_used_at

    # The token, then what each read needs; "the newest date" is a subquery where a view reads once.
    with django_assert_num_queries(3):
        client.get("/api/v1/completion/province/")  # + the programme, its row
    with django_assert_num_queries(4):
        client.get(f"/api/v1/pilots/{chenghua.pk}/completion/")  # + the pilot, its rollup rows, its sub-task rows
    with django_assert_num_queries(4):
        client.get("/api/v1/completion/prefectures/")  # + the newest date, the count, the page


def test_a_field_added_to_a_serializer_is_selected_and_rendered_without_another_change():
    class WithScope(api.PrefectureCompletionSerializer):
        class Meta(api.PrefectureCompletionSerializer.Meta):
            fields = [*api.PrefectureCompletionSerializer.Meta.fields, "scope"]
            read_only_fields = fields

    plan = api.renderer(WithScope)
    row = dict.fromkeys(plan.columns) | {"prefecture_id": 741, "prefecture__code": "519100", "scope": "prefecture",
                                         "includes_demo": False, "completion": Decimal("45.20")}
    rendered = plan.render(row, api.Rendering())

    assert "scope" in plan.columns and list(rendered) == list(WithScope().fields)
    assert rendered["scope"] == "prefecture" and rendered["completion"] == "45.20"
    assert rendered["prefecture"]["code"] == "519100" and rendered["demo_label"] is None
