"""The transactional outbox: work is recorded with the change, sent on commit, relayed when the broker was down."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from pilots.periods import Period
from smartcity.celery import app as celery_app
from smartcity.models import OutboxMessage
from smartcity.outbox import outbox_enqueue, outbox_relay
from smartcity.schedules import schedules_install
from tests.factories import OrganisationFactory, PilotFactory, PrefectureFactory, SubTaskFactory, member
from tests.helpers import client_for

HARMLESS = "smartcity.tasks.record_heartbeat"  # a real, idempotent task: sending it for real changes nothing


@pytest.fixture
def sent(monkeypatch):
    """Every task the Celery app actually hands to the broker, by name (the real send still happens)."""
    names: list[str] = []
    real_send = celery_app.send_task

    def spy(name, *args, **kwargs):
        result = real_send(name, *args, **kwargs)
        names.append(name)
        return result

    monkeypatch.setattr(celery_app, "send_task", spy)
    return names


@pytest.fixture
def broker_down(monkeypatch):
    """Point the Celery app at a closed local port, as if Redis were down; ``back_up()`` restores it.

    Celery reads CELERY_BROKER_URL from the environment before its configuration, so both change.
    """
    closed = "redis://127.0.0.1:1/0"
    saved_url, saved_timeout = celery_app.conf.broker_url, celery_app.conf.broker_connection_timeout
    saved_env = os.environ.get("CELERY_BROKER_URL")
    monkeypatch.setenv("CELERY_BROKER_URL", closed)
    celery_app.conf.broker_url = closed
    celery_app.conf.broker_connection_timeout = 0.5

    def back_up():
        if saved_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved_env
        celery_app.conf.broker_url, celery_app.conf.broker_connection_timeout = saved_url, saved_timeout

    yield back_up
    back_up()


def later(seconds: int = 30):
    return time_machine.travel(timezone.now() + dt.timedelta(seconds=seconds), tick=False)


# --- Enqueue and send on commit -----------------------------------------------------------------

@pytest.mark.django_db
def test_a_message_is_sent_when_its_transaction_commits_and_marked(sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        message = outbox_enqueue(task=HARMLESS, kwargs={})
        assert sent == []  # nothing leaves before the commit

    message.refresh_from_db()
    assert sent == [HARMLESS]
    assert message.dispatched_at is not None and message.attempts == 1 and message.last_error == ""


@pytest.mark.django_db
def test_nothing_is_recorded_or_sent_when_the_transaction_rolls_back(sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        outbox_enqueue(task=HARMLESS, kwargs={})
        raise RuntimeError("the change failed")

    assert sent == []
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_a_broker_error_on_commit_is_logged_and_the_message_stays_pending(broker_down, sent, caplog,
                                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        message = outbox_enqueue(task=HARMLESS, kwargs={"n": 1})

    message.refresh_from_db()
    assert message.dispatched_at is None and message.attempts == 1
    assert "OperationalError" in message.last_error
    assert "stays pending" in caplog.text
    assert sent == []


# --- The relay ------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_relay_sends_pending_messages_once_the_broker_is_back_and_never_twice(
        broker_down, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        first = outbox_enqueue(task=HARMLESS, kwargs={"n": 1})
        second = outbox_enqueue(task=HARMLESS, kwargs={"n": 2})

    assert outbox_relay() == 0  # too young for the relay: the send on commit has just tried them
    first.refresh_from_db()
    assert (first.dispatched_at, first.attempts) == (None, 1)
    with later():
        assert outbox_relay() == 0  # the broker is still down: the relay stops at the first failure
        first.refresh_from_db()
        second.refresh_from_db()
        assert (first.attempts, second.attempts) == (2, 1)

        broker_down()  # the broker is back
        assert outbox_relay() == 2
        assert outbox_relay() == 0  # marked: never sent twice

    assert sent == [HARMLESS, HARMLESS]
    assert not OutboxMessage.objects.filter(dispatched_at__isnull=True).exists()
    second.refresh_from_db()
    assert (second.attempts, second.last_error) == (2, "")  # one failure on commit, one success by the relay


@pytest.mark.django_db
def test_the_relay_leaves_fresh_messages_to_the_send_on_commit(sent):
    OutboxMessage.objects.create(task=HARMLESS, kwargs={})  # pending, just written

    assert outbox_relay() == 0
    with later(5):
        assert outbox_relay() == 0
    with later(11):
        assert outbox_relay() == 1
    assert sent == [HARMLESS]


@pytest.mark.django_db
def test_a_message_marked_by_one_sender_is_not_sent_again(sent):
    message = OutboxMessage.objects.create(task=HARMLESS, kwargs={},
                                           created_at=timezone.now() - dt.timedelta(minutes=5))
    OutboxMessage.objects.filter(pk=message.pk).update(dispatched_at=timezone.now())  # the on-commit send won

    assert outbox_relay() == 0
    assert sent == []


@pytest.mark.django_db
def test_the_relay_and_the_nightly_snapshot_are_scheduled():
    schedules_install()

    relay = PeriodicTask.objects.get(task="smartcity.relay_outbox")
    nightly = PeriodicTask.objects.get(task="pilots.recompute_all_completion")
    assert (relay.interval.every, relay.interval.period) == (30, "seconds")
    assert (nightly.crontab.minute, nightly.crontab.hour, str(nightly.crontab.timezone)) == ("30", "1",
                                                                                            "Asia/Shanghai")


# --- A report submission with the broker down -------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_report_submission_succeeds_with_the_broker_down_and_its_recompute_is_relayed(broker_down, sent):
    prefecture = PrefectureFactory(code="510100")
    subtask = SubTaskFactory(code="T4.1")
    pilot = PilotFactory(programme=subtask.task.programme, prefecture=prefecture, code="510108",
                         construction_start=dt.date(2021, 1, 1), construction_end=dt.date(2030, 12, 31))
    office = client_for(member("reporter", OrganisationFactory(kind="prefecture", prefecture=prefecture)),
                        can_write=True)

    response = office.post("/api/v1/reports/", {
        "pilot": pilot.pk, "subtask": subtask.pk, "period": str(Period.current()), "percent_complete": "45.0",
        "status": "on_track", "submit": True}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["report"]["state"] == "submitted"
    messages = list(OutboxMessage.objects.order_by("id"))  # committed with the report, sent never
    assert [(m.task, m.kwargs) for m in messages] == [("pilots.recompute_pilot_completion", {"pilot_id": pilot.pk}),
                                                      ("pilots.refresh_overdue", {"pilot_id": pilot.pk})]
    assert all(m.dispatched_at is None and "OperationalError" in m.last_error for m in messages)

    broker_down()  # Redis is back
    with later():
        assert outbox_relay() == 2
    assert sent == ["pilots.recompute_pilot_completion", "pilots.refresh_overdue"]
    assert not OutboxMessage.objects.filter(dispatched_at__isnull=True).exists()


@pytest.mark.django_db
def test_each_submission_and_review_asks_for_its_pilots_recompute(django_capture_on_commit_callbacks):
    from pilots.services.reports import report_approve, report_create, report_submit
    from smartcity.audit import ChangeContext
    from smartcity.models import AuditEntry

    subtask = SubTaskFactory(code="T4.1")
    pilot = PilotFactory(programme=subtask.task.programme, construction_start=dt.date(2021, 1, 1),
                         construction_end=dt.date(2030, 12, 31))
    context = ChangeContext(user=member("reporter"), via=AuditEntry.Via.API_TOKEN)
    content = {"percent_complete": Decimal("45.0"), "status": "on_track"}

    draft = report_create(pilot=pilot, subtask=subtask, period=Period.current(), content=content, context=context)
    submitted, _receipt = report_submit(report_id=draft.pk, expected_version=None, context=context)
    report_approve(report_id=submitted.pk, expected_version=None, context=context)

    # A draft counts in no figure: the submission and the approval each ask once (and for the overdue list).
    messages = list(OutboxMessage.objects.order_by("id").values_list("task", "kwargs"))
    assert messages == [("pilots.recompute_pilot_completion", {"pilot_id": pilot.pk}),
                        ("pilots.refresh_overdue", {"pilot_id": pilot.pk})] * 2


@pytest.mark.django_db
def test_identical_messages_of_one_import_are_sent_once(sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for _ in range(5):
            outbox_enqueue(task=HARMLESS, kwargs={"pilot_id": 7})
        outbox_enqueue(task=HARMLESS, kwargs={"pilot_id": 8})

    assert sent == [HARMLESS, HARMLESS]  # one for pilot 7, one for pilot 8
    assert not OutboxMessage.objects.filter(dispatched_at__isnull=True).exists()


@pytest.mark.django_db
def test_the_relay_sends_identical_pending_messages_once(broker_down, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for _ in range(3):
            outbox_enqueue(task=HARMLESS, kwargs={"pilot_id": 7})
    broker_down()  # back up

    with later():
        assert outbox_relay() == 1

    assert sent == [HARMLESS]
    assert not OutboxMessage.objects.filter(dispatched_at__isnull=True).exists()


@pytest.mark.django_db
def test_a_failed_send_leaves_its_twins_pending(broker_down, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for _ in range(3):
            outbox_enqueue(task=HARMLESS, kwargs={"pilot_id": 7})

    assert sent == []
    assert OutboxMessage.objects.filter(dispatched_at__isnull=True).count() == 3
