"""A transactional outbox: work that a change calls for is recorded with the change, then sent to Celery.

``outbox_enqueue`` writes an ``OutboxMessage`` in the caller's transaction, so the message exists
exactly when the change does. When that transaction commits, the message is sent to the broker at
once; if the broker is down, the error is logged (never raised into the request) and the message
stays pending until ``outbox_relay`` (Celery task ``smartcity.relay_outbox``, every 30 seconds)
sends it.

Delivery is at least once: a message may be sent twice (the process dies between sending and
marking, or the relay and the on-commit send race), never zero times once its transaction has
committed. Every task sent this way is idempotent, so a duplicate costs only work.

Marking is a conditional update (``dispatched_at IS NULL``), so a message already marked by one
sender is not marked again by another, and the relay never re-sends a marked message.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from smartcity.celery import app as celery_app
from smartcity.logs import REQUEST_ID_HEADER
from smartcity.models import OutboxMessage
from smartcity.request_ids import current_request_id

logger = logging.getLogger(__name__)

# A fresh message is the on-commit send's job; the relay leaves it alone this long.
RELAY_MIN_AGE = dt.timedelta(seconds=10)
RELAY_BATCH = 500
# Give up on an unreachable broker quickly: the request or the relay must not hang on it.
_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def outbox_enqueue(*, task: str, kwargs: dict) -> OutboxMessage:
    """Record that ``task(**kwargs)`` must run once the current transaction commits, and try to send it then.

    The message keeps the current request's ID, and the task is sent with it, also when the relay sends it later.
    """
    request_id = current_request_id.get()
    message = OutboxMessage.objects.create(task=task, kwargs=kwargs, request_id="" if request_id == "-" else request_id)
    transaction.on_commit(lambda: _send_after_commit(message.pk))
    return message


def outbox_relay(*, min_age: dt.timedelta = RELAY_MIN_AGE, limit: int = RELAY_BATCH) -> int:
    """Send the pending messages older than ``min_age``, oldest first; returns how many were sent.

    Stops at the first broker error (the next run tries again) rather than waiting on each message.
    On PostgreSQL the batch is locked with SKIP LOCKED, so two relays at once split the work.
    """
    sent = 0
    cutoff = timezone.now() - min_age
    with transaction.atomic():
        pending = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(dispatched_at__isnull=True, created_at__lte=cutoff)
            .order_by("created_at", "id")[:limit]
        )
        if not pending:
            return 0
        try:
            covered: set[int] = set()
            with celery_app.connection_for_write() as connection:
                for message in pending:
                    if message.pk in covered:
                        continue
                    sent_ids = _send(message, connection)
                    if sent_ids is None:
                        break
                    covered |= sent_ids
                    sent += 1
        except Exception as exc:  # the connection itself could not be set up
            _record_failure(pending[sent], exc)
    return sent


# --- internals --------------------------------------------------------------------------------

def _send_after_commit(message_id: int) -> None:
    """The on-commit send: best effort, never raises (the relay is the fallback)."""
    try:
        message = OutboxMessage.objects.filter(pk=message_id, dispatched_at__isnull=True).first()
        if message is None:
            return
        with celery_app.connection_for_write() as connection:
            _send(message, connection)
    except Exception:  # a database hiccup after commit must not turn a committed request into a 500
        logger.exception("outbox: could not send message %s after commit; the relay will retry", message_id)


def _send(message: OutboxMessage, connection) -> set[int] | None:
    """Send one message; returns the ids it covered (itself and identical pending ones), None on failure.

    Identical pending messages (same task and arguments) are claimed *before* sending: each of them
    was committed before this send, so the task, which reads the database when it runs, covers their
    changes too. A bulk import that files 100 reports for one pilot thus triggers one recompute, not 100;
    its log lines carry the request ID of the message that was sent.
    """
    twins = list(
        OutboxMessage.objects.filter(task=message.task, kwargs=message.kwargs, dispatched_at__isnull=True)
        .exclude(pk=message.pk).values_list("pk", flat=True)[:RELAY_BATCH]
    )
    now = timezone.now()
    if twins:
        OutboxMessage.objects.filter(pk__in=twins, dispatched_at__isnull=True).update(dispatched_at=now)
    try:
        celery_app.send_task(message.task, kwargs=message.kwargs, connection=connection, retry=True,
                             retry_policy=_PUBLISH_RETRY_POLICY,
                             headers={REQUEST_ID_HEADER: message.request_id} if message.request_id else None)
    except Exception as exc:  # kombu.exceptions.OperationalError and friends: the broker is unreachable
        if twins:
            OutboxMessage.objects.filter(pk__in=twins, dispatched_at=now).update(dispatched_at=None)
        _record_failure(message, exc)
        return None
    OutboxMessage.objects.filter(pk=message.pk, dispatched_at__isnull=True).update(
        dispatched_at=now, attempts=F("attempts") + 1, last_error=""
    )
    return {message.pk, *twins}


def _record_failure(message: OutboxMessage, exc: Exception) -> None:
    logger.warning("outbox: sending %s (message %s) failed: %s; it stays pending", message.task, message.pk, exc)
    OutboxMessage.objects.filter(pk=message.pk, dispatched_at__isnull=True).update(
        attempts=F("attempts") + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000]
    )
