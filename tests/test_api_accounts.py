"""The province runs its people: it invites a prefecture clerk, who sets a password through the link and files
a report; it changes a role, deactivates (tokens and sessions end at once) and reactivates; bad input is a
clear error and creates nothing."""

import datetime as dt
import re

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from pilots.services.accounts import INVITATION_TASK
from pilots.tasks import send_invitation
from smartcity.models import AuditEntry, OutboxMessage
from tests.factories import OrganisationFactory, PilotFactory, PrefectureFactory, SubTaskFactory, TaskFactory, member
from tests.helpers import client_for, error_fields

pytestmark = pytest.mark.django_db

URL = "/api/v1/accounts/"
TODAY = dt.datetime(2021, 10, 15, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
CLERK_PASSWORD = "Jinjiang-river-2021"


@pytest.fixture(autouse=True)
def mid_october_2021():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def world():
    task = TaskFactory(code="T4")
    subtask = SubTaskFactory(task=task, code="T4.1")
    chengdu = PrefectureFactory(code="510100", name_zh="成都市")
    chenghua = PilotFactory(programme=task.programme, prefecture=chengdu, code="510108", name_zh="成都市成华区")
    province = OrganisationFactory(code="province")
    office = OrganisationFactory(code="pref-510100", kind="prefecture", prefecture=chengdu, name_zh="成都市经济和信息化局")
    return {
        "subtask": subtask, "chenghua": chenghua, "office": office, "province": province,
        "admin": client_for(member("admin", province, username="sheng-admin"), can_write=True),
        "reviewer": client_for(member("reviewer", province), can_write=True),
        "clerk_elsewhere": client_for(member("reporter", office, email="old@chengdu.example.gov.cn"), can_write=True),
    }


def invite(world, **overrides):
    body = {"username": "zhang.wei", "email": "zhang.wei@chengdu.example.gov.cn", "organisation": "pref-510100",
            "role": "reporter", **overrides}
    return world["admin"].post(URL, body, format="json")


def deliver_invitations():
    for message in OutboxMessage.objects.filter(task=INVITATION_TASK).order_by("pk"):
        send_invitation(**message.kwargs)


def test_an_invited_clerk_sets_a_password_through_the_link_and_files_a_report(world):
    invited = invite(world)
    assert invited.status_code == 201, invited.json()
    assert invited.json()["has_password"] is False and invited.json()["organisation"] == "pref-510100"
    deliver_invitations()

    [message] = mail.outbox
    assert message.to == ["zhang.wei@chengdu.example.gov.cn"] and "zhang.wei" in message.body
    path = re.search(r"http://[^/\s]+(/accounts/invitation/\S+/\S+/)", message.body).group(1)
    browser = Client()
    form = browser.get(path, follow=True)
    assert 'id="invitation-accept"' in form.content.decode()
    done = browser.post(form.redirect_chain[-1][0], {"new_password1": CLERK_PASSWORD, "new_password2": CLERK_PASSWORD})
    assert done.status_code == 302

    token = APIClient().post("/api/v1/auth/token/", {"username": "zhang.wei", "password": CLERK_PASSWORD,
                                                     "can_write": True}, format="json")
    assert token.status_code == 201
    clerk = APIClient(HTTP_AUTHORIZATION=f"Bearer {token.json()['key']}")
    report = clerk.post("/api/v1/reports/", {
        "pilot": world["chenghua"].pk, "subtask": world["subtask"].pk, "period": "2021Q3",
        "percent_complete": "45.0", "status": "on_track", "narrative": "二期平台上线。", "submit": True}, format="json")
    assert report.status_code == 201, report.json()
    assert 'id="link-invalid"' in Client().get(path, follow=True).content.decode()  # the link worked once
    assert AuditEntry.objects.filter(action="invite", object_repr="zhang.wei").count() == 1


def test_an_invitation_link_expires(world, settings):
    invite(world)
    deliver_invitations()
    path = re.search(r"http://[^/\s]+(/accounts/invitation/\S+/\S+/)", mail.outbox[0].body).group(1)

    with time_machine.travel(TODAY + dt.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60), tick=False):
        assert 'id="link-invalid"' in Client().get(path, follow=True).content.decode()


@pytest.mark.parametrize(("overrides", "field"), [
    ({"email": "OLD@chengdu.example.gov.cn"}, "email"),  # already in use
    ({"username": "sheng-admin"}, "username"),
    ({"role": "overlord"}, "role"),
    ({"role": "reviewer"}, "role"),  # not held in a prefecture office
    ({"role": "integrator"}, "role"),
    ({"organisation": "pref-999999"}, "organisation"),
    ({"email": "not-an-address"}, "email"),
])
def test_a_bad_invitation_names_the_field_and_creates_nothing(world, overrides, field):
    people = get_user_model().objects.count()

    response = invite(world, **overrides)

    assert response.status_code == 400 and field in error_fields(response)
    assert get_user_model().objects.count() == people
    assert not OutboxMessage.objects.filter(task=INVITATION_TASK).exists()


def test_a_deactivated_persons_token_and_session_end_at_once_and_reactivation_needs_a_new_token(world):
    invite(world)
    user = get_user_model().objects.get(username="zhang.wei")
    user.set_password(CLERK_PASSWORD)
    user.save()
    token = APIClient().post("/api/v1/auth/token/", {"username": "zhang.wei", "password": CLERK_PASSWORD},
                             format="json").json()["key"]
    clerk = APIClient(HTTP_AUTHORIZATION=f"Bearer {token}")
    browser = Client()
    browser.force_login(user)
    assert clerk.get("/api/v1/pilots/").status_code == 200

    off = world["admin"].post(f"{URL}{user.pk}/deactivate/")

    assert off.status_code == 200 and off.json()["is_active"] is False
    assert clerk.get("/api/v1/pilots/").status_code == 401
    assert browser.get("/dashboard/prefectures/510100/").status_code == 302  # to the sign-in page
    on = world["admin"].post(f"{URL}{user.pk}/reactivate/")
    assert on.status_code == 200 and on.json()["is_active"] is True
    assert clerk.get("/api/v1/pilots/").status_code == 401  # its tokens stay revoked
    assert [e.action for e in AuditEntry.objects.filter(object_repr="zhang.wei").order_by("id")] == [
        "invite", "deactivate", "reactivate"]


def test_the_province_changes_a_role_and_a_bad_change_changes_nothing(world):
    user_id = invite(world).json()["id"]

    bad = world["admin"].patch(f"{URL}{user_id}/", {"role": "reviewer"}, format="json")
    good = world["admin"].patch(f"{URL}{user_id}/", {"role": "viewer"}, format="json")

    assert bad.status_code == 400 and "role" in error_fields(bad)
    assert good.status_code == 200 and good.json()["role"] == "viewer"


def test_only_the_provinces_administrators_manage_people(world):
    assert world["reviewer"].get(URL).status_code == 403
    assert world["reviewer"].post(URL, {}, format="json").status_code == 403
    assert world["clerk_elsewhere"].get(URL).status_code == 403
    assert APIClient().get(URL).status_code == 401
    assert world["admin"].get(URL).json()["count"] == 3
