"""/api/v1/notifications/, /reminders/ and /overdue/: each caller sees only what is theirs."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from pilots.models import Notification, Organisation, Reminder
from pilots.services.reminders import reminder_rules_ensure, reminders_sweep
from tests.factories import OrganisationFactory, PilotFactory, PrefectureFactory, SubTaskFactory, TaskFactory, member
from tests.helpers import client_for, error_fields

pytestmark = pytest.mark.django_db

CST = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2021, 10, 9, 9, 30, tzinfo=CST)  # the adjusted working Saturday after 2021Q3's deadline


@pytest.fixture(autouse=True)
def adjusted_saturday():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world():
    task = TaskFactory(code="T4", programme__report_due_days=5)
    SubTaskFactory(task=task, code="T4.1")
    chengdu, luzhou = PrefectureFactory(code="510100"), PrefectureFactory(code="510500")
    chenghua = PilotFactory(programme=task.programme, prefecture=chengdu, code="510108",
                            construction_start=dt.date(2021, 7, 1))
    jiangyang = PilotFactory(programme=task.programme, prefecture=luzhou, code="510502",
                             construction_start=dt.date(2021, 7, 1))
    chengdu_office = OrganisationFactory(kind=Organisation.Kind.PREFECTURE, prefecture=chengdu)
    luzhou_office = OrganisationFactory(kind=Organisation.Kind.PREFECTURE, prefecture=luzhou)
    province = OrganisationFactory(code="province")
    users = {"chengdu": member("reporter", chengdu_office), "luzhou": member("reporter", luzhou_office),
             "reviewer": member("reviewer", province)}
    reminder_rules_ensure()
    return {"users": users, "chenghua": chenghua, "jiangyang": jiangyang,
            **{name: client_for(user, can_write=True) for name, user in users.items()}}


def test_notifications_are_ones_own_and_others_answer_404(world):
    mine = Notification.objects.create(user=world["users"]["chengdu"], title="提醒", body="…", link="http://x/")
    theirs = Notification.objects.create(user=world["users"]["luzhou"], title="提醒", body="…")
    listed = world["chengdu"].get("/api/v1/notifications/").json()
    assert [n["id"] for n in listed["results"]] == [mine.pk]
    assert world["chengdu"].get(f"/api/v1/notifications/{theirs.pk}/").status_code == 404
    assert world["chengdu"].post(f"/api/v1/notifications/{theirs.pk}/read/").status_code == 404
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_unread_count_read_and_read_all(world):
    client, user = world["chengdu"], world["users"]["chengdu"]
    first, _second, _third = (Notification.objects.create(user=user, title=f"n{i}") for i in range(3))
    assert client.get("/api/v1/notifications/unread-count/").json() == {"unread": 3}
    response = client.post(f"/api/v1/notifications/{first.pk}/read/")
    assert response.status_code == 200 and response.json()["read_at"] is not None
    read_at = response.json()["read_at"]
    assert client.post(f"/api/v1/notifications/{first.pk}/read/").json()["read_at"] == read_at  # idempotent
    assert client.get("/api/v1/notifications/unread-count/").json() == {"unread": 2}
    assert [n["id"] for n in client.get("/api/v1/notifications/?unread=false").json()["results"]] == [first.pk]
    assert client.post("/api/v1/notifications/read-all/").json() == {"marked": 2}
    assert client.get("/api/v1/notifications/unread-count/").json() == {"unread": 0}
    assert Notification.objects.filter(user=world["users"]["luzhou"]).count() == 0
    assert client.get("/api/v1/notifications/?colour=red").status_code == 400


def test_anonymous_gets_401(world):
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/notifications/").status_code == 401


def test_a_sweep_fills_the_inbox(world):
    reminders_sweep(now=NOW)
    [notification] = world["chengdu"].get("/api/v1/notifications/").json()["results"]
    assert "510108" not in notification["title"] and "T4.1" in notification["body"]


def test_reminders_are_scoped_to_the_callers_organisation(world):
    reminders_sweep(now=NOW)
    chengdu = world["chengdu"].get("/api/v1/reminders/").json()
    assert chengdu["count"] == 1
    assert {r["pilot"]["code"] for r in chengdu["results"]} == {"510108"}
    luzhou_reminder = Reminder.objects.get(pilot=world["jiangyang"])
    assert world["chengdu"].get(f"/api/v1/reminders/{luzhou_reminder.pk}/").status_code == 404
    province = world["reviewer"].get("/api/v1/reminders/?kind=report_missing&sent=true").json()
    assert province["count"] == 2
    assert world["reviewer"].get("/api/v1/reminders/?prefecture=510500").json()["count"] == 1


def test_overdue_now_is_scoped_and_filtered(world):
    reminders_sweep(now=NOW)  # the sweep stores the list the endpoint reads
    mine = world["chengdu"].get("/api/v1/overdue/").json()
    assert [(e["pilot"]["code"], e["kind"], e["level"], e["occurrence"]) for e in mine["results"]] == [
        ("510108", "report_missing", "overdue", "2021-10-09")]
    everything = world["reviewer"].get("/api/v1/overdue/").json()
    assert everything["count"] == 2
    assert world["reviewer"].get("/api/v1/overdue/?prefecture=510500").json()["count"] == 1
    assert world["reviewer"].get(f"/api/v1/overdue/?pilot={world['chenghua'].pk}&level=overdue").json()["count"] == 1
    assert world["reviewer"].get("/api/v1/overdue/?level=escalation").json()["count"] == 0
    assert world["reviewer"].get("/api/v1/overdue/?kind=review_stale").json()["count"] == 0
    bad = world["reviewer"].get("/api/v1/overdue/?level=urgent&colour=red")
    assert bad.status_code == 400 and error_fields(bad) == {"level", "colour"}
