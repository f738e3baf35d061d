"""The catalog in the admin: edits are audited, a sub-task keeps exactly one lead, the audit trail is read-only."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse

from pilots.models import Pilot
from smartcity.audit import ChangeContext, audit_record
from smartcity.auth.services import token_issue
from smartcity.models import AuditEntry
from tasks_app.models import SubTask, SubTaskDepartment
from tests.factories import (
    DepartmentFactory,
    PrefectureFactory,
    ProgrammeFactory,
    SubTaskDepartmentFactory,
    SubTaskFactory,
    UserFactory,
)


@pytest.fixture
def office_admin(client):
    client.force_login(UserFactory(username="office-admin", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def subtask():
    subtask = SubTaskFactory(weight=Decimal("1"))
    SubTaskDepartmentFactory(subtask=subtask, department=DepartmentFactory(code="txglj"), role="lead")
    SubTaskDepartmentFactory(subtask=subtask, department=DepartmentFactory(code="jxt"), role="participant")
    return subtask


def change_form_data(subtask: SubTask, *, weight: str, assignments: list[dict]) -> dict:
    """What the browser posts from the sub-task change form, inline management form included."""
    stored = list(subtask.assignments.order_by("role", "department__code"))
    data = {
        "task": subtask.task_id, "code": subtask.code, "name_zh": subtask.name_zh, "name_en": subtask.name_en,
        "weight": weight, "order": subtask.order,
        "assignments-TOTAL_FORMS": len(assignments), "assignments-INITIAL_FORMS": len(stored),
        "assignments-MIN_NUM_FORMS": 1, "assignments-MAX_NUM_FORMS": 1000,
    }
    for index, row in enumerate(assignments):
        prefix = f"assignments-{index}-"
        existing = stored[index] if index < len(stored) else None
        data |= {
            f"{prefix}id": existing.pk if existing else "",
            f"{prefix}subtask": subtask.pk,
            f"{prefix}department": row["department"].pk,
            f"{prefix}role": row["role"],
            f"{prefix}basis": row.get("basis", "default"),
        }
    return data


def current_rows(subtask: SubTask) -> list[dict]:
    return [
        {"department": a.department, "role": a.role, "basis": a.basis}
        for a in subtask.assignments.order_by("role", "department__code")
    ]


def inline_error_codes(response) -> set[str]:
    return {
        error.code
        for inline in response.context["inline_admin_formsets"]
        for error in inline.formset.non_form_errors().as_data()
    }


def change_url(subtask: SubTask) -> str:
    return reverse("admin:tasks_app_subtask_change", args=[subtask.pk])


def superuser_request():
    request = RequestFactory().get("/")
    request.user = get_user_model().objects.get(username="office-admin")
    return request


@pytest.mark.django_db
def test_an_admin_edit_of_a_weight_is_audited_with_before_and_after(office_admin, subtask):
    response = office_admin.post(
        change_url(subtask), change_form_data(subtask, weight="2.5", assignments=current_rows(subtask))
    )

    assert response.status_code == 302, response.context["adminform"].errors if response.context else response
    subtask.refresh_from_db()
    assert subtask.weight == Decimal("2.5")
    entry = AuditEntry.objects.get(object_type="tasks_app.subtask", object_id=str(subtask.pk), action="update")
    assert entry.via == AuditEntry.Via.ADMIN
    assert entry.actor_username == "office-admin"
    assert Decimal(entry.before["weight"]) == Decimal("1")
    assert Decimal(entry.after["weight"]) == Decimal("2.5")


@pytest.mark.django_db
def test_the_inline_refuses_a_second_lead(office_admin, subtask):
    rows = current_rows(subtask)
    rows[1]["role"] = "lead"  # jxt would lead beside txglj

    response = office_admin.post(change_url(subtask), change_form_data(subtask, weight="1", assignments=rows))

    assert response.status_code == 200
    assert "lead_count" in inline_error_codes(response)
    assert subtask.assignments.filter(role="lead").count() == 1
    assert not AuditEntry.objects.filter(via=AuditEntry.Via.ADMIN).exists()


@pytest.mark.django_db
def test_the_inline_refuses_a_subtask_without_a_lead(office_admin, subtask):
    rows = current_rows(subtask)
    rows[0]["role"] = "participant"

    response = office_admin.post(change_url(subtask), change_form_data(subtask, weight="1", assignments=rows))

    assert response.status_code == 200
    assert "lead_count" in inline_error_codes(response)
    assert subtask.assignments.get(role="lead").department.code == "txglj"


@pytest.mark.django_db
def test_the_lead_moves_to_another_department_in_one_save(office_admin, subtask):
    rows = current_rows(subtask)
    rows[0]["role"], rows[1]["role"] = "participant", "lead"

    response = office_admin.post(change_url(subtask), change_form_data(subtask, weight="1", assignments=rows))

    assert response.status_code == 302
    assert subtask.assignments.get(role=SubTaskDepartment.Role.LEAD).department.code == "jxt"
    updates = AuditEntry.objects.filter(object_type="tasks_app.subtaskdepartment", via="admin", action="update")
    assert updates.count() == 2


@pytest.mark.django_db
def test_the_audit_trail_cannot_be_added_changed_or_deleted_in_the_admin(office_admin, subtask):
    entry = audit_record(
        context=ChangeContext.command(), action="create", instance=subtask, before=None, after={"weight": "1"}
    )

    assert office_admin.get(reverse("admin:smartcity_auditentry_add")).status_code == 403
    change = office_admin.post(reverse("admin:smartcity_auditentry_change", args=[entry.pk]), {"action": "forged"})
    assert change.status_code == 403
    delete = office_admin.post(reverse("admin:smartcity_auditentry_delete", args=[entry.pk]), {"post": "yes"})
    assert delete.status_code == 403
    bulk = office_admin.post(
        reverse("admin:smartcity_auditentry_changelist"),
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    entry.refresh_from_db()
    assert entry.action == "create"
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.django_db
def test_every_admin_page_of_the_catalog_and_registry_opens(office_admin):
    call_command("bootstrap", "--demo", stdout=StringIO())
    token_issue(user=UserFactory(), can_write=False, context=ChangeContext.command())
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ("tasks_app", "pilots", "smartcity"):
            continue
        info = (model._meta.app_label, model._meta.model_name)
        assert office_admin.get(reverse("admin:%s_%s_changelist" % info)).status_code == 200, info
        obj = model._default_manager.first()
        if obj is not None:
            assert office_admin.get(reverse("admin:%s_%s_change" % info, args=[obj.pk])).status_code == 200, info
        if model_admin.has_add_permission(superuser_request()):
            assert office_admin.get(reverse("admin:%s_%s_add" % info)).status_code == 200, info


@pytest.mark.django_db
def test_an_api_token_is_revoked_from_the_admin_and_its_key_hash_is_never_shown(office_admin):
    token, _key = token_issue(user=UserFactory(), can_write=True, context=ChangeContext.command())

    page = office_admin.get(reverse("admin:smartcity_apitoken_change", args=[token.pk])).content.decode()
    assert token.key_hash not in page
    assert office_admin.get(reverse("admin:smartcity_apitoken_add")).status_code == 403

    response = office_admin.post(
        reverse("admin:smartcity_apitoken_changelist"),
        {"action": "revoke_selected", "_selected_action": [token.pk]},
    )

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    entry = AuditEntry.objects.get(object_type="smartcity.apitoken", action="revoke")
    assert (entry.via, entry.actor_username) == (AuditEntry.Via.ADMIN, "office-admin")
    assert "key_hash" not in entry.after


@pytest.mark.django_db
def test_renaming_a_token_in_the_admin_is_audited_without_its_key_hash(office_admin):
    token, _key = token_issue(user=UserFactory(), can_write=False, context=ChangeContext.command())

    response = office_admin.post(
        reverse("admin:smartcity_apitoken_change", args=[token.pk]),
        {"name": "一网统管", "revoked_at_0": "", "revoked_at_1": ""},
    )

    assert response.status_code == 302
    entry = AuditEntry.objects.get(object_type="smartcity.apitoken", action="update")
    assert (entry.before["name"], entry.after["name"]) == ("", "一网统管")
    assert "key_hash" not in entry.before and "key_hash" not in entry.after


@pytest.mark.django_db
def test_a_pilot_added_in_the_admin_starts_its_life_cycle_history(office_admin):
    programme, prefecture = ProgrammeFactory(), PrefectureFactory(code="510100")

    response = office_admin.post(reverse("admin:pilots_pilot_add"), {
        "programme": programme.pk, "prefecture": prefecture.pk, "code": "510104", "name_zh": "成都市锦江区",
        "name_en": "Jinjiang District, Chengdu", "batch_year": 2023, "state": "designated",
        "designated_on": "2023-03-01", "construction_start": "2023-03-01", "construction_end": "2024-12-31",
        "source_note": "",
        "state_changes-TOTAL_FORMS": 0, "state_changes-INITIAL_FORMS": 0,
        "state_changes-MIN_NUM_FORMS": 0, "state_changes-MAX_NUM_FORMS": 1000,
    })

    assert response.status_code == 302
    pilot = Pilot.objects.get(code="510104")
    assert list(pilot.state_changes.values_list("state", "effective_on__year")) == [("designated", 2023)]
    audited = set(AuditEntry.objects.filter(via="admin").values_list("object_type", "action"))
    assert audited == {("pilots.pilot", "create"), ("pilots.pilotstatechange", "create")}
