"""Platform tasks run by the Celery worker."""

from __future__ import annotations

import socket

from celery import shared_task
from django.utils import timezone

from smartcity.models import WorkerHeartbeat
from smartcity.outbox import outbox_relay
from smartcity.retention import RETENTION_TASK, retention_purge


@shared_task(name="smartcity.tasks.record_heartbeat", bind=True, ignore_result=True)
def record_heartbeat(self) -> str:
    """Record that the worker running this task is alive: one row per worker, updated in place.

    Idempotent: running it twice (a redelivery after ``acks_late``) only moves ``seen_at`` forward.
    """
    hostname = self.request.hostname or socket.gethostname()  # no worker hostname when run in-process
    WorkerHeartbeat.objects.update_or_create(hostname=hostname, defaults={"seen_at": timezone.now()})
    return hostname


@shared_task(name="smartcity.relay_outbox", ignore_result=True)
def relay_outbox() -> int:
    """Send the outbox messages that were not sent when their transaction committed (see smartcity.outbox)."""
    return outbox_relay()


@shared_task(name=RETENTION_TASK, ignore_result=True)
def purge_expired() -> dict[str, int]:
    """Delete the rows past their retention period (see smartcity.retention); safe to run twice at once."""
    return retention_purge()


@shared_task(name="smartcity.send_password_reset", ignore_result=True)
def send_password_reset(email: str, language: str) -> int:
    """Mail the reset link a sign-in page's visitor asked for (see smartcity.auth.passwords)."""
    from smartcity.auth.passwords import password_reset_send

    return password_reset_send(email=email, language=language)
