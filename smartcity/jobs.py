"""The last successful run of each periodic job, recorded so that ``/metrics`` can tell its age.

A task counts as a periodic job when ``smartcity.schedules`` declares it, or when the admin's "run
selected tasks" sent it (django-celery-beat names the schedule in the header ``periodic_task_name``). Recording is one upsert per run; a failure to record is logged,
never raised into the task, which has done its work.
"""

from __future__ import annotations

import logging

from celery import signals
from django.utils import timezone

logger = logging.getLogger(__name__)


def scheduled_task_names() -> set[str]:
    from smartcity.schedules import DEFAULT_SCHEDULES

    return {schedule["task"] for schedule in DEFAULT_SCHEDULES}


def job_run_record(*, task: str) -> None:
    """Record that ``task`` finished successfully now. Idempotent: only ``finished_at`` moves."""
    from smartcity.models import JobRun

    JobRun.objects.update_or_create(task=task, defaults={"finished_at": timezone.now()})


@signals.task_success.connect
def _record_periodic_job(sender=None, **kwargs):
    if sender is None:
        return
    from_beat = bool(getattr(sender.request, "periodic_task_name", None))
    if not (from_beat or sender.name in scheduled_task_names()):
        return
    try:
        job_run_record(task=sender.name)
    except Exception:  # noqa: BLE001  (the job did its work; only its record is missing)
        logger.exception("could not record the run of %s", sender.name)
