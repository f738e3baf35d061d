"""The tables that only grow stay bounded: the nightly purge trims what is past its period, nothing else."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from pilots.models import Notification
from pilots.models.webhooks import WebhookDelivery, WebhookSubscription
from smartcity.models import AuditEntry, IdempotencyRecord, LoginLockout, OutboxMessage, SignInEvent
from smartcity.retention import RETENTION_TASK, retention_policies, retention_purge
from smartcity.schedules import schedules_install
from smartcity.tasks import purge_expired
from tests.factories import OrganisationFactory, PilotFactory, SubTaskFactory, member
from tests.helpers import client_for

DAY = dt.timedelta(days=1)


def aged(queryset, **fields):
    """Backdate rows (their dates are set on save, so after it)."""
    queryset.update(**fields)


def idempotency_records(user, count, *, age):
    records = IdempotencyRecord.objects.bulk_create(
        IdempotencyRecord(user=user, key=f"k-{uuid.uuid4()}", method="POST", path="/api/v1/reports/",
                          request_hash="0" * 64, status_code=201, response_body={})
        for _ in range(count))
    aged(IdempotencyRecord.objects.filter(pk__in=[r.pk for r in records]), created_at=timezone.now() - age)
    return records


def outbox(count, *, sent_age=None, created_age=dt.timedelta(0)):
    now = timezone.now()
    return OutboxMessage.objects.bulk_create(
        OutboxMessage(task="pilots.recompute_pilot_completion", kwargs={"pilot_id": n}, created_at=now - created_age,
                      dispatched_at=None if sent_age is None else now - sent_age)
        for n in range(count))


def deliveries(subscription, count, *, age):
    rows = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(subscription=subscription, event="report.submitted", event_id=str(uuid.uuid4()), body="{}",
                        delivered_at=timezone.now())
        for _ in range(count))
    aged(WebhookDelivery.objects.filter(pk__in=[r.pk for r in rows]), created_at=timezone.now() - age)
    return rows


def notifications(user, count, *, age, read_age=None):
    rows = Notification.objects.bulk_create(Notification(user=user, title="报告已退回") for _ in range(count))
    now = timezone.now()
    aged(Notification.objects.filter(pk__in=[r.pk for r in rows]), created_at=now - age,
         read_at=None if read_age is None else now - read_age)
    return rows


def sign_ins(count, *, age):
    now = timezone.now()
    return SignInEvent.objects.bulk_create(
        SignInEvent(at=now - age, event="token", via="api", result="failure", reason="wrong_password",
                    username="pref-510100") for _ in range(count))


def lockouts(count, *, age):
    now = timezone.now()
    return LoginLockout.objects.bulk_create(
        LoginLockout(username="pref-510100", address="203.0.113.7", locked_at=now - age,
                     expires_at=now - age + dt.timedelta(minutes=15)) for _ in range(count))


@pytest.fixture
def small_batches(settings):
    settings.RETENTION_BATCH_SIZE = 3
    return settings


@pytest.fixture
def integrator():
    return member("integrator", OrganisationFactory(code="province"))


@pytest.fixture
def full_tables(integrator):
    """Each table holds rows past their period (more than one batch of them) beside rows still needed."""
    # Years old, yet never deleted: the audit log is kept for good.
    AuditEntry.objects.create(at=timezone.now() - 3000 * DAY, via=AuditEntry.Via.COMMAND, action="create",
                              object_type="pilots.pilot", object_id="1", object_repr="成都市成华区")
    subscription = WebhookSubscription.objects.create(owner=integrator, url="http://127.0.0.1:9/hook",
                                                      events=["report.submitted"], secret="s" * 32)
    return {
        "old_keys": idempotency_records(integrator, 7, age=8 * DAY),
        "live_keys": idempotency_records(integrator, 2, age=6 * DAY),
        "old_sent": outbox(7, sent_age=31 * DAY, created_age=31 * DAY),
        "recent_sent": outbox(2, sent_age=29 * DAY, created_age=40 * DAY),
        "old_unsent": outbox(2, created_age=400 * DAY),  # the broker was down; the relay still owes them
        "old_deliveries": deliveries(subscription, 7, age=91 * DAY),
        "recent_deliveries": deliveries(subscription, 2, age=89 * DAY),
        "old_read": notifications(integrator, 7, age=400 * DAY, read_age=366 * DAY),
        "recently_read": notifications(integrator, 2, age=400 * DAY, read_age=300 * DAY),
        "old_unread": notifications(integrator, 2, age=800 * DAY),
        # The sign-in record is append-only (on PostgreSQL a trigger), yet the purge trims it.
        "old_sign_ins": sign_ins(7, age=366 * DAY),
        "recent_sign_ins": sign_ins(2, age=364 * DAY),
        "old_lockouts": lockouts(7, age=366 * DAY),
        "recent_lockouts": lockouts(2, age=364 * DAY),
    }


def ids(rows):
    return {row.pk for row in rows}


def assert_only_needed_rows_remain(tables):
    assert set(IdempotencyRecord.objects.values_list("pk", flat=True)) == ids(tables["live_keys"])
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == ids(tables["recent_sent"] + tables["old_unsent"])
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == ids(tables["recent_deliveries"])
    assert set(Notification.objects.values_list("pk", flat=True)) == ids(tables["recently_read"] + tables["old_unread"])
    assert set(SignInEvent.objects.values_list("pk", flat=True)) == ids(tables["recent_sign_ins"])
    assert set(LoginLockout.objects.values_list("pk", flat=True)) == ids(tables["recent_lockouts"])


@pytest.mark.django_db
def test_the_purge_trims_every_table_in_batches_and_keeps_what_is_still_needed(full_tables, small_batches):
    audit_before = list(AuditEntry.objects.order_by("pk").values_list("pk", "at"))
    assert audit_before
    assert "smartcity.AuditEntry" not in {policy.model for policy in retention_policies()}

    deleted_statements = []

    def count_deletes(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("DELETE"):
            deleted_statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count_deletes):
        deleted = purge_expired()

    assert deleted == {"smartcity.IdempotencyRecord": 7, "smartcity.OutboxMessage": 7,
                       "pilots.WebhookDelivery": 7, "pilots.Notification": 7,
                       "smartcity.SignInEvent": 7, "smartcity.LoginLockout": 7}
    # 7 rows, 3 per batch: three delete transactions per table, never one unbounded delete.
    assert len(deleted_statements) == 6 * 3
    assert_only_needed_rows_remain(full_tables)
    assert list(AuditEntry.objects.order_by("pk").values_list("pk", "at")) == audit_before


@pytest.mark.django_db
def test_running_the_purge_again_deletes_nothing_more(full_tables, small_batches):
    retention_purge()

    assert set(retention_purge().values()) == {0}
    assert_only_needed_rows_remain(full_tables)


@pytest.mark.django_db
def test_the_periods_are_settings(full_tables, small_batches):
    small_batches.OUTBOX_RETENTION_DAYS = 60
    small_batches.NOTIFICATION_RETENTION_DAYS = 200

    deleted = retention_purge()

    assert deleted["smartcity.OutboxMessage"] == 0
    assert deleted["pilots.Notification"] == 9  # read 366 and 300 days ago; the unread ones stay
    assert Notification.objects.filter(read_at__isnull=True).count() == 2


@pytest.mark.django_db
def test_an_idempotency_key_replays_within_its_window_and_is_a_new_request_after_it(settings):
    import time_machine

    task = SubTaskFactory(code="T4.1").task
    pilot = PilotFactory(programme=task.programme)
    office = client_for(member("reporter", OrganisationFactory(kind="prefecture", prefecture=pilot.prefecture)),
                        can_write=True)
    subtask = task.subtasks.get()
    body = {"pilot": pilot.pk, "subtask": subtask.pk, "period": "2021Q3", "percent_complete": "45.0",
            "status": "on_track", "narrative": "二期平台上线。"}
    start = timezone.now()

    first = office.post("/api/v1/reports/", body, format="json", HTTP_IDEMPOTENCY_KEY="quarter-filing-1")
    with time_machine.travel(start + 7 * DAY - dt.timedelta(minutes=1)):
        within = office.post("/api/v1/reports/", body, format="json", HTTP_IDEMPOTENCY_KEY="quarter-filing-1")
        assert retention_purge()["smartcity.IdempotencyRecord"] == 0  # the purge keeps what may still replay
    with time_machine.travel(start + 7 * DAY + dt.timedelta(minutes=1)):
        after = office.post("/api/v1/reports/", body | {"period": "2021Q4"}, format="json",
                            HTTP_IDEMPOTENCY_KEY="quarter-filing-1")

    assert first.status_code == 201
    assert within.status_code == 201 and within["Idempotent-Replayed"] == "true"
    # Past the window the key is forgotten, as the purge forgets it: the new body is filed, not a 422.
    assert after.status_code == 201 and not after.has_header("Idempotent-Replayed")
    assert after.json()["report"]["period"] == "2021Q4"


@pytest.mark.django_db
def test_bootstrap_installs_the_nightly_purge():
    schedules_install()

    purge = PeriodicTask.objects.get(task=RETENTION_TASK)
    assert purge.crontab is not None and (purge.crontab.hour, purge.crontab.minute) == ("3", "15")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_purges_at_once_split_the_rows_and_delete_each_once(full_tables, small_batches):
    results, errors = [], []
    barrier = threading.Barrier(2)

    def purge():
        try:
            barrier.wait()
            results.append(retention_purge())
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=purge) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    for label in ("smartcity.IdempotencyRecord", "smartcity.OutboxMessage", "pilots.WebhookDelivery",
                  "pilots.Notification", "smartcity.SignInEvent", "smartcity.LoginLockout"):
        assert sum(result[label] for result in results) == 7
    assert_only_needed_rows_remain(full_tables)
