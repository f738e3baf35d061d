"""The admin shows reminder rules (editable), and every delivery with its attempts and last error."""

from __future__ import annotations

import pytest

from pilots.models import Reminder, ReminderRule
from pilots.services.reminders import reminder_rules_ensure

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
