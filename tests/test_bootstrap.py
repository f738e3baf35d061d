"""`manage.py bootstrap`: the shipped catalog, prefectures and pilots, organisations, schedules, demo data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from pilots.models import Membership, Organisation, Pilot, Prefecture
from smartcity.audit import ChangeContext
from smartcity.models import AuditEntry
from tasks_app.models import (
    Department,
    EvaluationNode,
    Indicator,
    Pillar,
    Programme,
    SubTask,
    SubTaskDepartment,
    Task,
)
from tasks_app.services import catalog_load_programme

PREFECTURE_CODES = {
    "510100", "510300", "510400", "510500", "510600", "510700", "510800", "510900", "511000", "511100", "511300",
    "511400", "511500", "511600", "511700", "511800", "511900", "512000", "513200", "513300", "513400",
}
PILOTS_2020 = {
    "510108": "成都市成华区", "510402": "攀枝花市东区", "510502": "泸州市江阳区", "510821": "广元市旺苍县",
    "511381": "南充市阆中市", "511526": "宜宾市珙县", "511724": "达州市大竹县", "511803": "雅安市名山区",
    "511421": "眉山市仁寿县", "513426": "凉山彝族自治州会东县",
}
SUBTASK_CODES = [
    "T1.1", "T1.2", "T2.1", "T2.2", "T2.3", "T3.1", "T4.1", "T4.2",
    "T5.1", "T5.2", "T5.3", "T6.1", "T6.2", "T6.3", "T7.1", "T7.2", "T7.3",
]


def bootstrap(*args: str) -> str:
    out = StringIO()
    call_command("bootstrap", *args, stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


@pytest.mark.django_db
def test_bootstrap_loads_the_programme_with_its_goal_pillars_tasks_and_subtasks():
    bootstrap()

    programme = Programme.objects.get(code="sc-2020-3")
    assert programme.document_number == "川数字经济办〔2020〕3号"
    assert programme.title_zh == "关于加快推进新型智慧城市建设的指导意见"
    assert (programme.goal_pilot_count, programme.goal_deadline) == (30, dt.date(2022, 12, 31))
    assert programme.issued_on is None and "近日" in programme.source_note

    assert programme.pillars.filter(kind=Pillar.Kind.FOCUS).count() == 4
    assert programme.pillars.filter(kind=Pillar.Kind.GUARANTEE).count() == 3
    assert sorted(programme.tasks.values_list("code", flat=True)) == [f"T{n}" for n in range(1, 8)]
    assert Task.objects.get(code="T3").pillar.name_zh == "产业发展"
    assert Task.objects.get(code="T7").pillar.name_zh == "信息安全"
    assert list(SubTask.objects.filter(task__programme=programme).order_by("code").values_list("code", flat=True)) == (
        SUBTASK_CODES
    )
    assert SubTask.objects.get(code="T4.1").name_zh == '优化"互联网+政务服务"'


@pytest.mark.django_db
def test_every_subtask_has_exactly_one_lead_from_the_default_assignment():
    bootstrap()

    for subtask in SubTask.objects.all():
        assert subtask.assignments.filter(role=SubTaskDepartment.Role.LEAD).count() == 1, subtask.code
    assert set(SubTaskDepartment.objects.values_list("basis", flat=True)) == {SubTaskDepartment.Basis.DEFAULT}
    assert SubTaskDepartment.objects.get(subtask__code="T1.1", role="lead").department.name_zh == "省通信管理局"
    assert Department.objects.count() == 20


@pytest.mark.django_db
def test_bootstrap_loads_the_prefectures_and_the_2020_batch_none_of_it_demo():
    bootstrap()

    assert set(Prefecture.objects.values_list("code", flat=True)) == PREFECTURE_CODES
    assert Prefecture.objects.get(code="513200").name_zh == "阿坝藏族羌族自治州"
    pilots = Pilot.objects.all()
    assert {p.code: p.name_zh for p in pilots} == PILOTS_2020
    assert not pilots.filter(is_demo=True).exists()
    for pilot in pilots:
        assert (pilot.batch_year, pilot.designated_on, pilot.state) == (2020, dt.date(2021, 1, 22), "designated")
        assert pilot.code[:4] == pilot.prefecture.code[:4]
        assert "默认" in pilot.source_note  # the construction window is a default, and says so
        history = list(pilot.state_changes.values_list("state", "effective_on"))
        assert history == [("designated", dt.date(2021, 1, 22))]


@pytest.mark.django_db
def test_bootstrap_ensures_the_province_every_prefecture_office_and_every_department_office():
    bootstrap()

    assert Organisation.objects.count() == 1 + 21 + Department.objects.count()
    assert Organisation.objects.get(code="province").kind == Organisation.Kind.PROVINCE
    chengdu = Organisation.objects.get(code="pref-510100")
    assert (chengdu.kind, chengdu.prefecture.code) == (Organisation.Kind.PREFECTURE, "510100")
    assert Organisation.objects.get(code="dept-jxt").department.code == "jxt"


@pytest.mark.django_db
def test_bootstrap_installs_the_worker_heartbeat_schedule():
    bootstrap()

    heartbeat = PeriodicTask.objects.get(name="worker heartbeat")
    assert heartbeat.task == "smartcity.tasks.record_heartbeat"
    assert (heartbeat.interval.every, heartbeat.interval.period) == (60, "seconds")


@pytest.mark.django_db
def test_a_schedule_paused_in_the_admin_stays_paused_after_a_second_bootstrap():
    bootstrap()
    PeriodicTask.objects.filter(name="worker heartbeat").update(enabled=False)

    bootstrap()

    assert PeriodicTask.objects.get(name="worker heartbeat").enabled is False


@pytest.mark.django_db
def test_every_created_row_is_audited_as_a_command():
    bootstrap()

    for label, model in (("tasks_app.subtask", SubTask), ("tasks_app.indicator", Indicator),
                         ("tasks_app.evaluationnode", EvaluationNode)):
        entries = AuditEntry.objects.filter(object_type=label)
        assert entries.count() == model.objects.count() > 0, label  # both programmes' rows, each once
        assert set(entries.values_list("via", "action")) == {(AuditEntry.Via.COMMAND, "create")}


@pytest.mark.django_db
def test_running_bootstrap_twice_changes_nothing():
    bootstrap()
    counts_after_first_run = row_counts()

    output = bootstrap()

    assert row_counts() == counts_after_first_run  # includes the audit trail: nothing is written
    assert "已创建 / created" in output
    assert all(count == "0" for count in _created_counts(output))


@pytest.mark.django_db
def test_a_weight_edited_by_the_office_survives_a_second_bootstrap():
    bootstrap()
    SubTask.objects.filter(code="T3.1").update(weight=Decimal("2.5"))
    lead = SubTaskDepartment.objects.get(subtask__code="T5.2", role="lead")
    lead.department = Department.objects.get(code="dsjzx")
    SubTaskDepartment.objects.filter(subtask__code="T5.2").exclude(pk=lead.pk).delete()
    lead.save()

    bootstrap()

    assert SubTask.objects.get(code="T3.1").weight == Decimal("2.5")
    # The office's reassignment stands: the default lead does not come back beside it.
    assert list(SubTaskDepartment.objects.filter(subtask__code="T5.2").values_list("department__code", "role")) == [
        ("dsjzx", "lead")
    ]


@pytest.mark.django_db
def test_plain_bootstrap_creates_no_users_and_no_demo_data():
    bootstrap()

    assert get_user_model().objects.count() == 0
    assert not Pilot.objects.filter(is_demo=True).exists()
    assert not Organisation.objects.filter(kind=Organisation.Kind.INTEGRATOR).exists()


@pytest.mark.django_db
def test_demo_bootstrap_creates_a_sign_in_for_every_role(settings):
    settings.DEMO_PASSWORD = "demo-pass-for-test"

    output = bootstrap("--demo")

    def role_of(username):
        membership = Membership.objects.select_related("organisation").get(user__username=username)
        return membership.role, membership.organisation.code

    assert role_of("province") == ("reviewer", "province")
    assert role_of("viewer") == ("viewer", "province")
    assert role_of("integrator") == ("integrator", "demo-integrator")
    for code in PREFECTURE_CODES:
        assert role_of(f"pref-{code}") == ("reporter", f"pref-{code}")
    assert get_user_model().objects.count() == 3 + 21
    assert get_user_model().objects.get(username="pref-510100").check_password("demo-pass-for-test")
    assert "pref-510100" in output and "province" in output


@pytest.mark.django_db
def test_demo_bootstrap_fills_the_programme_to_30_pilots_all_extra_ones_flagged_demo():
    output = bootstrap("--demo")

    pilots = Pilot.objects.filter(programme__code="sc-2020-3")
    assert pilots.count() == 30
    demo = pilots.filter(is_demo=True)
    assert demo.count() == 20
    assert set(pilots.filter(is_demo=False).values_list("code", flat=True)) == set(PILOTS_2020)
    for pilot in demo:
        assert pilot.batch_year in (2021, 2022)
        assert "演示数据" in pilot.source_note and "demo data" in pilot.source_note
        assert pilot.code[:4] == pilot.prefecture.code[:4]
        assert pilot.state_changes.count() == 1
    # With the demo pilots every prefecture has at least one pilot to report on.
    assert set(pilots.values_list("prefecture__code", flat=True)) == PREFECTURE_CODES
    assert "演示数据" in output


@pytest.mark.django_db
def test_demo_bootstrap_twice_keeps_passwords_and_adds_nothing(settings):
    bootstrap("--demo")
    province = get_user_model().objects.get(username="province")
    province.set_password("changed-by-the-office")
    province.save()
    counts = row_counts()

    settings.DEMO_PASSWORD = "another-demo-password"
    bootstrap("--demo")

    assert row_counts() == counts
    province.refresh_from_db()
    assert province.check_password("changed-by-the-office")


@pytest.mark.django_db
def test_a_second_programme_loads_beside_the_first():
    bootstrap()
    second = {
        "programme": {
            "code": "sc-2023-1", "document_number": "川测试〔2023〕1号", "title_zh": "第二个方案", "title_en": "Second",
            "goal_pilot_count": 5, "goal_deadline": "2025-12-31",
        },
        "pillars": [{"code": "F1", "kind": "focus", "name_zh": "惠民服务", "name_en": "Services"}],
        "tasks": [
            {
                "code": "T1", "pillar": "F1", "name_zh": "任务一", "name_en": "Task one",
                "subtasks": [{"code": "T1.1", "name_zh": "子任务一", "name_en": "Sub-task one"}],
            }
        ],
        "default_assignments": {"basis": "default", "assignments": [{"subtask": "T1.1", "lead": "jxt"}]},
    }

    counts = catalog_load_programme(data=second, context=ChangeContext.command())

    assert counts == {"programmes": 1, "pillars": 1, "tasks": 1, "subtasks": 1, "assignments": 1}
    assert Programme.objects.count() == 3  # beside the two shipped ones
    assert SubTask.objects.filter(task__programme__code="sc-2020-3").count() == 17
    assert SubTask.objects.get(task__programme__code="sc-2023-1").code == "T1.1"
    assert catalog_load_programme(data=second, context=ChangeContext.command())["subtasks"] == 0


def _created_counts(output: str) -> list[str]:
    """The numbers printed after '已创建 / created' on each step line."""
    numbers = []
    for line in output.splitlines():
        if "已创建 / created" in line:
            numbers += [part.split()[-1] for part in line.split("created", 1)[1].split(",")]
    return numbers
