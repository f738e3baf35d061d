"""What a sweep records and what its digests say, to the character.

The sweep records rows with its own INSERT and renders digests from prefetched names rather than from
model instances; these tests pin the outcome: every column of the recorded rows, and the exact text of
each channel's digest in both languages, items in due-date order, with and without a period.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.core import mail

from pilots.models import Milestone, Notification, Organisation, PlanItem, ProgressReport, Reminder
from pilots.services.reminders import RECORD_BATCH, reminder_rules_ensure, reminders_record, reminders_sweep
from tests.factories import OrganisationFactory, PilotFactory, PrefectureFactory, SubTaskFactory, TaskFactory, member

pytestmark = pytest.mark.django_db

CST = dt.timezone(dt.timedelta(hours=8))
# An adjusted working Saturday, the day after 2021Q3's deadline (moved to 10-08 by National Day).
NOW = dt.datetime(2021, 10, 9, 9, 30, tzinfo=CST)
SITE = settings.SITE_URL


@pytest.fixture
def world():
    task = TaskFactory(code="T4", programme__report_due_days=5)
    first = SubTaskFactory(task=task, code="T4.1", order=1)
    second = SubTaskFactory(task=task, code="T4.2", order=2)
    chengdu = PrefectureFactory(code="510100", name_zh="成都市")
    pilot = PilotFactory(programme=task.programme, prefecture=chengdu, code="510108", name_zh="成都市成华区",
                         name_en="Chenghua District", construction_start=dt.date(2021, 7, 1),
                         construction_end=dt.date(2022, 12, 31))
    office = OrganisationFactory(kind=Organisation.Kind.PREFECTURE, prefecture=chengdu,
                                 contact_email="office@chengdu.example")
    OrganisationFactory(code="province", contact_email="office@province.example")
    reporter_zh = member("reporter", office, email="zh@chengdu.example")
    reporter_en = member("reporter", office, email="En@Chengdu.example")
    reporter_en.membership.language = "en"
    reporter_en.membership.save()
    # A milestone passed below target (no approved report): due before the quarter's report, so listed first.
    plan = PlanItem.objects.create(pilot=pilot, subtask=first, description="平台")
    milestone = Milestone.objects.create(plan_item=plan, title="一期", due_on=dt.date(2021, 9, 30), target_percent=50)
    reminder_rules_ensure()
    return {"pilot": pilot, "T4.1": first, "T4.2": second, "office": office, "zh": reporter_zh,
            "en": reporter_en, "milestone": milestone}


def sweep():
    with time_machine.travel(NOW, tick=False):
        return reminders_sweep(now=NOW)


def report_link(world, subtask: str) -> str:
    """A missing report's page: its pilot's reports on the dashboard (never the API's JSON)."""
    return f"{SITE}/dashboard/pilots/{world['pilot'].pk}/#h-rep"


def milestone_page(world) -> str:
    return f"{SITE}/dashboard/pilots/{world['pilot'].pk}/#h-ms"


def test_recorded_rows_carry_every_column(world):
    reminders_record(today=NOW.date(), hour=9)
    rows = {(r.kind, r.recipient, r.subtask.code): r for r in Reminder.objects.select_related("subtask")}
    assert len(rows) == 3 * 4  # (milestone + 2 reports) × 2 reporters × (email + in-app)

    milestone = rows[("milestone_behind", "email:en@chengdu.example", "T4.1")]
    assert (milestone.item_key, milestone.level, milestone.occurrence, milestone.due_on) == (
        f"milestone:{world['milestone'].pk}", "overdue", dt.date(2021, 10, 1), dt.date(2021, 9, 30))
    assert (milestone.channel, milestone.recipient_user, milestone.recipient_email, milestone.organisation) == (
        "email", world["en"], "en@chengdu.example", world["office"])
    assert (milestone.pilot, milestone.period, milestone.report_id, milestone.milestone_id, milestone.link) == (
        world["pilot"], "", None, world["milestone"].pk, milestone_page(world))

    in_app = rows[("report_missing", f"in_app:{world['zh'].pk}", "T4.2")]
    assert (in_app.item_key, in_app.level, in_app.occurrence, in_app.due_on, in_app.period) == (
        f"report:{world['pilot'].pk}:{world['T4.2'].pk}:2021Q3", "overdue", dt.date(2021, 10, 9),
        dt.date(2021, 10, 8), "2021Q3")
    assert (in_app.channel, in_app.recipient_user, in_app.recipient_email, in_app.organisation) == (
        "in_app", world["zh"], "", world["office"])
    assert in_app.link == report_link(world, "T4.2")

    for row in rows.values():  # what the model's defaults give a new row
        assert (row.claimed_by, row.claimed_at, row.sent_at, row.failed_at, row.attempts, row.last_error) == (
            None, None, None, None, 0, "")
        assert row.created_at is not None


def test_recording_again_keeps_what_was_recorded(world):
    reminders_record(today=NOW.date(), hour=9)
    before = {r.pk: (r.item_key, r.recipient, r.created_at) for r in Reminder.objects.all()}
    Reminder.objects.update(attempts=1, last_error="kept")
    assert reminders_record(today=NOW.date(), hour=9) == len(before)  # offered again, inserted never
    assert {r.pk: (r.item_key, r.recipient, r.created_at) for r in Reminder.objects.all()} == before
    assert set(Reminder.objects.values_list("attempts", "last_error")) == {(1, "kept")}


def test_a_sweep_larger_than_one_insert_batch_records_every_row(world, monkeypatch):
    monkeypatch.setattr("pilots.services.reminders.sweep.RECORD_BATCH", 5)
    assert RECORD_BATCH > 5
    reminders_record(today=NOW.date(), hour=9)
    assert Reminder.objects.count() == 12
    reminders_record(today=NOW.date(), hour=9)
    assert Reminder.objects.count() == 12


def test_digests_say_exactly_this(world):
    result = sweep()
    assert result == {"recorded": 12, "digests": 4, "reminders": 12, "failed": 0}
    milestone_link = milestone_page(world)
    t41, t42 = report_link(world, "T4.1"), report_link(world, "T4.2")

    by_address = {message.to[0]: message for message in mail.outbox}
    english, chinese = by_address["en@chengdu.example"], by_address["zh@chengdu.example"]
    assert english.subject == "[Smart city pilots] 3 reminders"
    assert english.body == (
        "Hello,\n\nThe following items need your attention:\n"
        "\n1. [overdue] Milestone passed below target: Chenghua District · T4.1\n"
        f"   Due 2021-09-30 — {milestone_link}\n"
        "\n2. [overdue] Quarterly report not submitted: Chenghua District · T4.1 · 2021Q3\n"
        f"   Due 2021-10-08 — {t41}\n"
        "\n3. [overdue] Quarterly report not submitted: Chenghua District · T4.2 · 2021Q3\n"
        f"   Due 2021-10-08 — {t42}\n"
        f"\nThis message was sent by smartcity-tracker ({SITE}). Reminder rules are set by the provincial office.\n\n"
    )
    assert chinese.subject == "【新型智慧城市试点】3 项督办提醒"
    assert chinese.body == (
        "您好:\n\n以下事项需要您及时处理:\n"
        f"\n1. 【已逾期】里程碑到期未达目标:成都市成华区 · T4.1\n   截止日期 2021-09-30 — {milestone_link}\n"
        f"\n2. 【已逾期】季度进展报告未按期报送:成都市成华区 · T4.1 · 2021Q3\n   截止日期 2021-10-08 — {t41}\n"
        f"\n3. 【已逾期】季度进展报告未按期报送:成都市成华区 · T4.2 · 2021Q3\n   截止日期 2021-10-08 — {t42}\n"
        f"\n本邮件由新型智慧城市试点跟踪系统({SITE})自动发送,提醒规则由省级主管部门设定。\n\n"
    )

    english_note = Notification.objects.get(user=world["en"])
    assert (english_note.title, english_note.link) == ("[Smart city pilots] 3 reminders", f"{SITE}/dashboard/#h-overdue")
    assert english_note.api_url == f"{SITE}/api/v1/overdue/"
    assert english_note.body == (
        f"[overdue] Milestone passed below target: Chenghua District · T4.1 (due 2021-09-30) {milestone_link}\n"
        f"[overdue] Quarterly report not submitted: Chenghua District · T4.1 · 2021Q3 (due 2021-10-08) {t41}\n"
        f"[overdue] Quarterly report not submitted: Chenghua District · T4.2 · 2021Q3 (due 2021-10-08) {t42}\n\n"
    )
    chinese_note = Notification.objects.get(user=world["zh"])
    assert chinese_note.title == "【新型智慧城市试点】3 项督办提醒"
    assert chinese_note.body == (
        f"【已逾期】里程碑到期未达目标:成都市成华区 · T4.1(截止 2021-09-30){milestone_link}\n"
        f"【已逾期】季度进展报告未按期报送:成都市成华区 · T4.1 · 2021Q3(截止 2021-10-08){t41}\n"
        f"【已逾期】季度进展报告未按期报送:成都市成华区 · T4.2 · 2021Q3(截止 2021-10-08){t42}\n\n"
    )


def test_an_english_reader_sees_the_chinese_name_of_a_pilot_without_an_english_one(world):
    world["pilot"].name_en = ""
    world["pilot"].save()
    sweep()
    english = next(message for message in mail.outbox if message.to == ["en@chengdu.example"])
    assert "Milestone passed below target: 成都市成华区 · T4.1" in english.body


def test_quarters_filed_in_full_in_part_or_only_as_drafts(world):
    """2021Q3 filed in full, 2021Q4 in part (and a draft, which does not count): only what is missing of
    2021Q4 is reminded of, on its own deadline."""
    def filed(subtask: str, period: str, start: dt.date, state: str = "submitted"):
        ProgressReport.objects.create(pilot=world["pilot"], subtask=world[subtask], period=period, period_start=start,
                                      percent_complete=30, status="on_track", state=state,
                                      submitted_at=None if state == "draft" else dt.datetime(2021, 10, 8, tzinfo=CST))

    filed("T4.1", "2021Q3", dt.date(2021, 7, 1))
    filed("T4.2", "2021Q3", dt.date(2021, 7, 1), state="approved")
    filed("T4.1", "2022Q1", dt.date(2022, 1, 1), state="draft")
    filed("T4.2", "2021Q4", dt.date(2021, 10, 1), state="returned")
    Milestone.objects.all().delete()
    reminders_record(today=dt.date(2022, 1, 14), hour=9)  # 2021Q4's deadline (01-05) has passed
    missing = Reminder.objects.filter(kind="report_missing")
    assert sorted(set(missing.values_list("period", "subtask__code", "due_on"))) == [
        ("2021Q4", "T4.1", dt.date(2022, 1, 5))]
    assert missing.count() == 4  # 2 reporters × (email + in-app)
