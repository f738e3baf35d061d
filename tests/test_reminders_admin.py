"""The admin shows reminder rules (editable), and every delivery with its attempts and last error."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from pilots.models import CurrentOverdueItem, Reminder, ReminderRule
from pilots.services.reminders import reminder_rules_ensure, reminders_sweep
from pilots.tasks import refresh_overdue
from smartcity.models import OutboxMessage
from tests.factories import PilotFactory, SubTaskFactory, TaskFactory

pytestmark = pytest.mark.django_db

PAGES = ["reminderrule", "reminder", "notification", "webhooksubscription", "webhookdelivery"]


@pytest.mark.parametrize("model", PAGES)
def test_changelists_load(admin_client, model):
    reminder_rules_ensure()
    assert admin_client.get(f"/admin/pilots/{model}/").status_code == 200


def test_a_rule_is_edited_in_the_admin_and_bootstrap_keeps_the_edit(admin_client):
    reminder_rules_ensure()
    rule = ReminderRule.objects.get(kind="report_missing")
    response = admin_client.post(f"/admin/pilots/reminderrule/{rule.pk}/change/", {
        "kind": "report_missing", "enabled": "on", "grace_days": 0, "due_soon_days": 5,
        "repeat_every_working_days": 3, "escalate_after_days": 15, "send_hour": 10})
    assert response.status_code == 302
    assert reminder_rules_ensure() == {"reminder_rules": 0}
    rule.refresh_from_db()
    assert (rule.due_soon_days, rule.repeat_every_working_days, rule.send_hour) == (5, 3, 10)


def test_reminders_cannot_be_changed_in_the_admin(admin_client):
    assert admin_client.get("/admin/pilots/reminder/add/").status_code == 403
    assert not Reminder.objects.exists()


def test_a_rule_disabled_in_the_admin_takes_its_items_off_the_stored_overdue_list(admin_client):
    task = TaskFactory(code="T4", programme__report_due_days=5)
    SubTaskFactory(task=task, code="T4.1")
    PilotFactory(programme=task.programme, construction_start=dt.date(2021, 7, 1))
    reminder_rules_ensure()
    now = dt.datetime(2021, 10, 9, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # 2021Q3 report overdue
    with time_machine.travel(now, tick=False):
        reminders_sweep(now=now)
        assert list(CurrentOverdueItem.objects.values_list("kind", flat=True)) == ["report_missing"]
        rule = ReminderRule.objects.get(kind="report_missing")
        response = admin_client.post(f"/admin/pilots/reminderrule/{rule.pk}/change/", {
            "kind": "report_missing", "grace_days": 0, "due_soon_days": 5,  # disabled: "enabled" left out
            "repeat_every_working_days": 3, "escalate_after_days": 15, "send_hour": 10})
        assert response.status_code == 302
        [message] = OutboxMessage.objects.filter(task="pilots.refresh_overdue")
        assert message.kwargs == {}  # the whole list, by the rules as edited
        refresh_overdue(**message.kwargs)  # what the worker runs once the edit commits
    assert not CurrentOverdueItem.objects.exists()
