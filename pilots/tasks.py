"""Celery tasks of the pilots app: thin wrappers that take ids and call a service."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from pilots import task_names
from pilots.services.completion import completion_recompute_all, completion_recompute_pilot


@shared_task(name=task_names.RECOMPUTE_PILOT_COMPLETION, ignore_result=True)
def recompute_pilot_completion(pilot_id: int, as_of: str | None = None) -> dict[str, int]:
    """One pilot's completion and the rollups it feeds, as of ``as_of`` (ISO date; default today).

    Sent through the outbox whenever a report of the pilot changes state; emits ``completion.changed``
    when a figure changes (``pilots.services.webhooks.CompletionWatch``). Idempotent.
    """
    day = dt.date.fromisoformat(as_of) if as_of else timezone.localdate()
    return completion_recompute_pilot(pilot_id=pilot_id, as_of=day)


@shared_task(name=task_names.RECOMPUTE_ALL_COMPLETION, ignore_result=True)
def recompute_all_completion(as_of: str | None = None) -> dict[str, int]:
    """Every figure as of ``as_of`` (default today): the nightly snapshot, with a ``completion.changed``
    for each pilot whose figure changed since the previous one. Idempotent."""
    day = dt.date.fromisoformat(as_of) if as_of else timezone.localdate()
    return completion_recompute_all(as_of=day)


@shared_task(name=task_names.SEND_REMINDERS, ignore_result=True)
def send_reminders() -> dict:
    """Record and deliver the reminders due now (every 15 minutes; the sweep decides whether it is time)."""
    from pilots.services.reminders import reminders_sweep

    return reminders_sweep()


@shared_task(name=task_names.REFRESH_OVERDUE, ignore_result=True)
def refresh_overdue(pilot_id: int | None = None) -> int:
    """Recompute and store one pilot's overdue items (sent through the outbox when its reports or plan change),
    or the whole list (``pilot_id`` None: a reminder rule was edited).

    Idempotent: it stores what is overdue when it runs, however often.
    """
    from pilots.services.reminders import overdue_refresh

    return overdue_refresh(pilot_id=pilot_id)


@shared_task(name=task_names.DELIVER_WEBHOOKS, bind=True, ignore_result=True)
def deliver_webhooks(self, event: str, event_id: str, data: dict | None = None, created_at: str | None = None,
                     ref: dict | None = None) -> int:
    """Record one delivery per subscription to ``event`` and send each (sent through the outbox). Idempotent.

    ``data`` is the payload built when the event happened; ``ref`` only in messages written before that."""
    from pilots.services.webhooks import webhook_deliveries_record

    ids = webhook_deliveries_record(event=event, event_id=event_id, data=data, created_at=created_at, ref=ref)
    # The sends go to the queue this task came from (a worker may serve a queue other than the default).
    queue = (self.request.delivery_info or {}).get("routing_key")
    for delivery_id in ids:
        send_webhook.apply_async((delivery_id,), **({"queue": queue} if queue else {}))
    return len(ids)


@shared_task(name=task_names.SEND_WEBHOOK, bind=True, ignore_result=True, max_retries=8,
             autoretry_for=(Exception,), dont_autoretry_for=(), retry_backoff=30, retry_backoff_max=3600,
             retry_jitter=True)
def send_webhook(self, delivery_id: int) -> str:
    """POST one delivery; a retryable failure is retried with exponential backoff (30 s … 1 h), 8 times."""
    from pilots.services.webhooks import WebhookDeliveryError, webhook_give_up, webhook_send

    try:
        return webhook_send(delivery_id=delivery_id)
    except WebhookDeliveryError as exc:
        if not exc.retryable:
            return f"failed: {exc}"
        if self.request.retries >= self.max_retries:
            webhook_give_up(delivery_id=delivery_id)
            return f"gave up: {exc}"
        raise


@shared_task(name=task_names.CALENDAR_YEAR_NOTICES, ignore_result=True)
def calendar_year_notices() -> dict[str, int]:
    """Daily: tell the provincial administrators that a year's holiday arrangement is missing. Idempotent."""
    from pilots.services.calendar import calendar_year_notices as notices

    return notices()


@shared_task(name=task_names.GENERATE_BULLETIN, ignore_result=True)
def generate_bulletin(bulletin_id: int) -> str:
    """Generate and publish one requested bulletin (sent through the outbox). Idempotent."""
    from pilots.services.bulletins import bulletin_generate

    return bulletin_generate(bulletin_id=bulletin_id)


@shared_task(name=task_names.SCHEDULE_BULLETINS, ignore_result=True)
def schedule_bulletins() -> dict[str, int]:
    """Daily: request the last quarter's bulletin once its deadline has passed. Idempotent."""
    from pilots.services.bulletins import bulletin_schedule_due

    return bulletin_schedule_due()


@shared_task(name=task_names.SEND_INVITATION, ignore_result=True)
def send_invitation(user_id: int) -> bool:
    """Mail an invited person their link to set a password (see pilots.services.accounts)."""
    from pilots.services.accounts import invitation_send

    return invitation_send(user_id=user_id)
