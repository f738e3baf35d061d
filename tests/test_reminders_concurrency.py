"""Never twice: concurrent sweeps, and a sweep that dies half-way through its digests."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core import mail
from django.db import connection

from pilots.models import Notification, Organisation, Reminder
from pilots.services.reminders import CLAIM_TIMEOUT, reminder_rules_ensure, reminders_sweep
from pilots.services.reminders.channels import CHANNELS
from tests.factories import OrganisationFactory, PilotFactory, PrefectureFactory, SubTaskFactory, TaskFactory, member

CST = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2021, 10, 9, 9, 30, tzinfo=CST)  # adjusted working Saturday, the day after 2021Q3's deadline
RECIPIENTS = 6


def build_overdue_quarter() -> None:
    """Two sub-tasks whose 2021Q3 reports are overdue at NOW, and RECIPIENTS reporters of 成都市: 24
    reminders (6 × 2 sub-tasks × e-mail and in-app) in 12 digests of two. Also used by test_faults."""
    task = TaskFactory(code="T4", programme__report_due_days=5)
    SubTaskFactory(task=task, code="T4.1")
    SubTaskFactory(task=task, code="T4.2")
    chengdu = PrefectureFactory(code="510100")
    PilotFactory(programme=task.programme, prefecture=chengdu, code="510108", construction_start=dt.date(2021, 7, 1))
    office = OrganisationFactory(kind=Organisation.Kind.PREFECTURE, prefecture=chengdu)
    for n in range(RECIPIENTS):
        member("reporter", office, email=f"reporter{n}@chengdu.example")
    reminder_rules_ensure()


@pytest.fixture
def world():
    build_overdue_quarter()


def _emails_by_address() -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in mail.outbox:
        counts[message.to[0]] = counts.get(message.to[0], 0) + 1
    return counts


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_send_each_reminder_once(world):
    runs = 4
    barrier = threading.Barrier(runs)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(reminders_sweep(now=NOW))
        except Exception as exc:  # noqa: BLE001 (reported below, with the thread's own exception)
            errors.append(exc)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=run) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert Reminder.objects.count() == RECIPIENTS * 2 * 2  # 2 sub-tasks × (email + in-app)
    assert sum(r["reminders"] for r in results) == Reminder.objects.count()
    assert set(Reminder.objects.values_list("attempts", flat=True)) == {1}
    assert Reminder.objects.filter(sent_at=None).count() == 0
    assert _emails_by_address() == {f"reporter{n}@chengdu.example": 1 for n in range(RECIPIENTS)}
    assert Notification.objects.count() == RECIPIENTS


class Crash(Exception):
    """The worker process dying mid-run, as far as the sweep can tell."""


class DiesAfter:
    def __init__(self, digests: int):
        self.left = digests

    def deliver(self, recipient, digest):
        if self.left == 0:
            raise Crash
        self.left -= 1
        CHANNELS[digest.channel].deliver(recipient, digest)


@pytest.mark.parametrize("survive", [0, 3, 7])
@pytest.mark.django_db(transaction=True)
def test_a_run_that_dies_mid_way_is_finished_by_a_later_one_without_resending(world, survive):
    dying = DiesAfter(survive)
    with pytest.raises(Crash):
        reminders_sweep(now=NOW, channels={"email": dying, "in_app": dying})
    sent_first = Reminder.objects.exclude(sent_at=None).count()
    assert sent_first == survive * 2  # each digest covers both sub-tasks

    # Another run before the claim times out leaves the dead run's reminders alone.
    assert reminders_sweep(now=NOW + dt.timedelta(minutes=5))["reminders"] == 0

    later = reminders_sweep(now=NOW + CLAIM_TIMEOUT + dt.timedelta(minutes=1))
    assert later["reminders"] == Reminder.objects.count() - sent_first
    assert Reminder.objects.filter(sent_at=None).count() == 0
    assert set(Reminder.objects.values_list("attempts", flat=True)) == {1}
    assert _emails_by_address() == {f"reporter{n}@chengdu.example": 1 for n in range(RECIPIENTS)}
    assert Notification.objects.count() == RECIPIENTS
