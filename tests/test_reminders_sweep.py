"""The reminder sweep across 2021Q3's deadline: a National Day holiday moves it, an adjusted Saturday works.

2021Q3 with ``report_due_days`` 5: nominally 2021-10-05 (National Day holiday), moved to Friday
2021-10-08; Saturday 2021-10-09 is an adjusted working day (调休), so the sweep runs then.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail

from pilots.models import Notification, Organisation, ProgressReport, Reminder, ReminderRule
from pilots.services.reminders import reminder_rules_ensure, reminders_sweep
from tests.factories import OrganisationFactory, PilotFactory, PrefectureFactory, SubTaskFactory, TaskFactory, member

pytestmark = pytest.mark.django_db

CST = dt.timezone(dt.timedelta(hours=8))


def at(day: str, hour: int = 9, minute: int = 30) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=CST)


def sweep(when: dt.datetime, **kwargs):
    with time_machine.travel(when, tick=False):
        return reminders_sweep(now=when, **kwargs)


@pytest.fixture
def world():
    task = TaskFactory(code="T4", programme__report_due_days=5)
    first = SubTaskFactory(task=task, code="T4.1")
    second = SubTaskFactory(task=task, code="T4.2")
    chengdu = PrefectureFactory(code="510100", name_zh="成都市")
    pilot = PilotFactory(programme=task.programme, prefecture=chengdu, code="510108", name_zh="成都市成华区",
                         name_en="Chenghua District", construction_start=dt.date(2021, 7, 1),
                         construction_end=dt.date(2022, 12, 31))
    office = OrganisationFactory(kind=Organisation.Kind.PREFECTURE, prefecture=chengdu,
                                 contact_email="office@chengdu.example", leadership_email="leader@chengdu.example")
    province = OrganisationFactory(code="province", contact_email="office@province.example")
    reporter_zh = member("reporter", office, email="zh@chengdu.example")
    reporter_en = member("reporter", office, email="en@chengdu.example")
    reporter_en.membership.language = "en"
    reporter_en.membership.save()
    reviewer = member("reviewer", province, email="reviewer@province.example")
    reminder_rules_ensure()
    return {"T4.1": first, "T4.2": second, "pilot": pilot, "office": office, "province": province,
            "zh": reporter_zh, "en": reporter_en, "reviewer": reviewer}


def produced():
    return sorted(
        (r.kind, r.level, r.occurrence.isoformat(), r.recipient, r.subtask.code)
        for r in Reminder.objects.select_related("subtask")
    )


def base_rows(world, level: str, occurrence: str) -> list[tuple]:
    people = [f"email:{world['zh'].email}", f"email:{world['en'].email}",
              f"in_app:{world['zh'].pk}", f"in_app:{world['en'].pk}"]
    return [("report_missing", level, occurrence, who, code) for who in people for code in ("T4.1", "T4.2")]


def test_holiday_and_before_the_send_hour_send_nothing(world):
    assert sweep(at("2021-10-05")) == {"skipped": "not a working day"}  # National Day
    assert sweep(at("2021-10-08", hour=8)) == {"skipped": "before the send hour"}
    assert Reminder.objects.count() == 0
    assert mail.outbox == []


def test_due_soon_on_the_moved_deadline_then_overdue_on_the_adjusted_saturday(world):
    result = sweep(at("2021-10-08"))
    assert produced() == sorted(base_rows(world, "due_soon", "2021-10-08"))
    assert result["digests"] == 4 and result["reminders"] == 8
    assert Reminder.objects.filter(sent_at=None).count() == 0

    mail.outbox.clear()
    sweep(at("2021-10-09"))  # a Saturday, but an adjusted working day
    assert sorted(set(produced()) - set(base_rows(world, "due_soon", "2021-10-08"))) == sorted(
        base_rows(world, "overdue", "2021-10-09"))
    assert sorted(message.to[0] for message in mail.outbox) == ["en@chengdu.example", "zh@chengdu.example"]

    mail.outbox.clear()
    again = sweep(at("2021-10-09", hour=14))
    assert again["reminders"] == 0 and mail.outbox == []  # never twice
    assert sweep(at("2021-10-10")) == {"skipped": "not a working day"}  # an ordinary Sunday


def test_repeat_every_five_working_days_then_escalation(world):
    sweep(at("2021-10-09"))
    sweep(at("2021-10-14"))  # 5th working day after the deadline: nothing new
    assert {r.level for r in Reminder.objects.all()} == {"overdue"}
    sweep(at("2021-10-15"))  # 6th: the first repeat
    assert sorted(r for r in produced() if r[1] == "repeat") == sorted(base_rows(world, "repeat", "2021-10-15"))

    mail.outbox.clear()
    sweep(at("2021-10-18"))  # 10 days after the deadline: escalation
    escalated = {r[3] for r in produced() if r[1] == "escalation"}
    assert escalated == {
        f"email:{world['zh'].email}", f"email:{world['en'].email}", f"in_app:{world['zh'].pk}",
        f"in_app:{world['en'].pk}", f"in_app:{world['reviewer'].pk}", "email:reviewer@province.example",
        "email:office@province.example", "email:leader@chengdu.example",
    }
    assert not any(r[1] == "repeat" and r[2] != "2021-10-15" for r in produced())
    assert sorted(m.to[0] for m in mail.outbox) == [
        "en@chengdu.example", "leader@chengdu.example", "office@province.example", "reviewer@province.example",
        "zh@chengdu.example"]
    leadership = Reminder.objects.filter(recipient="email:leader@chengdu.example")
    assert {r.organisation for r in leadership} == {world["office"]}


def test_a_submitted_report_is_not_reminded_of(world):
    ProgressReport.objects.create(pilot=world["pilot"], subtask=world["T4.1"], period="2021Q3",
                                  period_start=dt.date(2021, 7, 1), percent_complete=40, status="on_track",
                                  state="submitted", submitted_at=at("2021-10-08", hour=8))
    sweep(at("2021-10-09"))
    assert {r.subtask.code for r in Reminder.objects.select_related("subtask")} == {"T4.2"}


def test_a_draft_does_not_count_and_a_revoked_pilot_is_left_out(world):
    ProgressReport.objects.create(pilot=world["pilot"], subtask=world["T4.1"], period="2021Q3",
                                  period_start=dt.date(2021, 7, 1), percent_complete=40, status="on_track")
    other = PilotFactory(programme=world["pilot"].programme, prefecture=world["pilot"].prefecture, state="revoked", code="510104",
                         construction_start=dt.date(2021, 7, 1))
    sweep(at("2021-10-09"))
    assert {r.pilot_id for r in Reminder.objects.all()} == {world["pilot"].pk}
    assert Reminder.objects.filter(subtask=world["T4.1"]).exists()
    assert not Reminder.objects.filter(pilot=other).exists()


def test_one_digest_per_recipient_listing_every_item_in_their_language(world):
    sweep(at("2021-10-09"))
    by_address = {message.to[0]: message for message in mail.outbox}
    assert len(mail.outbox) == 2
    chinese, english = by_address["zh@chengdu.example"], by_address["en@chengdu.example"]
    assert "督办提醒" in chinese.subject and "季度进展报告未按期报送" in chinese.body
    assert "reminder" in english.subject and "Quarterly report not submitted" in english.body
    assert "Chenghua District" in english.body and "成都市成华区" in chinese.body
    for message in (chinese, english):
        assert "T4.1" in message.body and "T4.2" in message.body and "2021-10-08" in message.body
        assert message.body.count("http://") >= 2  # a link per item
        assert f"/dashboard/pilots/{world['pilot'].pk}/#h-rep" in message.body  # a page, not JSON
    notifications = Notification.objects.filter(user=world["en"])
    assert notifications.count() == 1 and "T4.1" in notifications.get().body and "T4.2" in notifications.get().body


def test_disabled_rule_and_later_send_hour(world):
    ReminderRule.objects.filter(kind="report_missing").update(send_hour=15)
    sweep(at("2021-10-09", hour=10))
    assert Reminder.objects.count() == 0
    sweep(at("2021-10-09", hour=15, minute=0))
    assert Reminder.objects.count() == 8
    ReminderRule.objects.update(enabled=False)
    assert sweep(at("2021-10-15")) == {"skipped": "before the send hour"}


def test_a_failing_channel_is_recorded_and_retried(world):
    from pilots.services.reminders.channels import CHANNELS, DeliveryError

    class Down:
        def deliver(self, recipient, digest):
            raise DeliveryError("SMTP server unreachable", retryable=True)

    sweep(at("2021-10-09"), channels={**CHANNELS, "email": Down()})
    failed = Reminder.objects.filter(channel="email")
    assert {(r.sent_at, r.attempts, r.last_error, r.claimed_by) for r in failed} == {
        (None, 1, "SMTP server unreachable", None)}
    assert mail.outbox == []
    sweep(at("2021-10-09", hour=10))
    assert len(mail.outbox) == 2
    assert set(failed.values_list("attempts", flat=True)) == {2}
    assert Reminder.objects.filter(sent_at=None).count() == 0


def test_a_permanent_failure_is_given_up_visibly(world):
    from pilots.services.reminders.channels import CHANNELS, DeliveryError

    class Refuses:
        def deliver(self, recipient, digest):
            raise DeliveryError("recipient refused", retryable=False)

    sweep(at("2021-10-09"), channels={**CHANNELS, "email": Refuses()})
    sweep(at("2021-10-09", hour=11))
    assert mail.outbox == []
    assert set(Reminder.objects.filter(channel="email").values_list("failed_at", "attempts")) == {
        (at("2021-10-09"), 1)}
