"""A real Celery worker runs tasks sent through the real broker (no eager mode)."""

from __future__ import annotations

import pytest
from django.db import transaction

from smartcity.models import WorkerHeartbeat
from smartcity.tasks import record_heartbeat

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _heartbeat_of(worker):
    return lambda: WorkerHeartbeat.objects.filter(hostname=worker.hostname).first()


def test_heartbeat_sent_through_the_broker_is_recorded_by_the_worker(celery_worker_process):
    WorkerHeartbeat.objects.all().delete()

    record_heartbeat.delay()

    row = celery_worker_process.wait_for(_heartbeat_of(celery_worker_process), timeout=30,
                                         what="the worker's heartbeat row")
    assert row.hostname == celery_worker_process.hostname


def test_heartbeat_is_idempotent_one_row_per_worker(celery_worker_process):
    WorkerHeartbeat.objects.all().delete()
    record_heartbeat.delay()
    first = celery_worker_process.wait_for(_heartbeat_of(celery_worker_process), what="the first heartbeat")

    record_heartbeat.delay()
    later = celery_worker_process.wait_for(
        lambda: WorkerHeartbeat.objects.filter(hostname=celery_worker_process.hostname,
                                               seen_at__gt=first.seen_at).first(),
        what="the second heartbeat",
    )

    assert WorkerHeartbeat.objects.count() == 1
    assert later.pk == first.pk


def test_task_enqueued_on_commit_reaches_the_worker(celery_worker_process):
    WorkerHeartbeat.objects.all().delete()

    with transaction.atomic():
        transaction.on_commit(lambda: record_heartbeat.delay())
        assert not WorkerHeartbeat.objects.exists()

    celery_worker_process.wait_for(_heartbeat_of(celery_worker_process), timeout=30,
                                   what="the heartbeat enqueued on commit")

