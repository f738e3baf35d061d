"""Celery tasks of the pilots app: thin wrappers that take ids and call a service."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from pilots.services.completion import completion_recompute_all, completion_recompute_pilot


@shared_task(name="pilots.recompute_pilot_completion", ignore_result=True)
def recompute_pilot_completion(pilot_id: int, as_of: str | None = None) -> dict[str, int]:
    """One pilot's completion and the rollups it feeds, as of ``as_of`` (ISO date; default today).

    Sent through the outbox whenever a report of the pilot changes state. Idempotent.
    """
    day = dt.date.fromisoformat(as_of) if as_of else timezone.localdate()
    return completion_recompute_pilot(pilot_id=pilot_id, as_of=day)


@shared_task(name="pilots.recompute_all_completion", ignore_result=True)
def recompute_all_completion(as_of: str | None = None) -> dict[str, int]:
    """Every figure as of ``as_of`` (default today): the nightly snapshot. Idempotent."""
    day = dt.date.fromisoformat(as_of) if as_of else timezone.localdate()
    return completion_recompute_all(as_of=day)
