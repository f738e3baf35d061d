"""Every periodic job, declared in one place, and the installer that ``bootstrap`` runs.

The schedules live in the database (django-celery-beat's ``DatabaseScheduler``) so that the
provincial office can change or pause them in the admin. Installing creates a schedule only when no
periodic task of that name exists, so those edits survive re-running ``bootstrap``.

Each entry has ``name``, ``task`` (the Celery task's dotted name) and either
``interval`` (``{"every": 60, "period": "seconds"}``) or ``crontab`` (cron fields; run in
Asia/Shanghai, e.g. ``{"minute": "0", "hour": "9"}``).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from smartcity.audit import ChangeContext, audit_record, snapshot
from smartcity.retention import RETENTION_TASK

SCHEDULE_TIMEZONE = "Asia/Shanghai"

DEFAULT_SCHEDULES: list[dict[str, Any]] = [
    {
        # Lets /readyz and the dashboard tell a dead worker or beat from an idle one.
        "name": "worker heartbeat",
        "task": "smartcity.tasks.record_heartbeat",
        "interval": {"every": 60, "period": IntervalSchedule.SECONDS},
    },
    {
        # Today's completion snapshot for every scope (pilots, prefectures, tasks, departments, province).
        "name": "nightly completion snapshot",
        "task": "pilots.recompute_all_completion",
        "crontab": {"minute": "30", "hour": "1"},
    },
    {
        # Sends the outbox messages whose send on commit failed (the broker was down).
        "name": "outbox relay",
        "task": "smartcity.relay_outbox",
        "interval": {"every": 30, "period": IntervalSchedule.SECONDS},
    },
    {
        # Reminders of overdue reports, milestones and reviews; the sweep itself decides if it is time
        # (working days, from each rule's send hour) and never sends one twice.
        "name": "reminders sweep",
        "task": "pilots.send_reminders",
        "interval": {"every": 15, "period": IntervalSchedule.MINUTES},
    },
    {
        # From 1 November, tells the provincial administrators (once a day) that next year's holiday
        # arrangement is missing from the working-day calendar, until it is entered.
        "name": "calendar year notices",
        "task": "pilots.calendar_year_notices",
        "crontab": {"minute": "0", "hour": "9"},
    },
    {
        # The last quarter's bulletin (季度通报), once its reporting deadline is past by the configured working
        # days (BULLETIN_WORKING_DAYS_AFTER_DEADLINE); one per programme and quarter, so daily runs are harmless.
        "name": "quarterly bulletin",
        "task": "pilots.schedule_bulletins",
        "crontab": {"minute": "0", "hour": "6"},
    },
    {
        # Trims idempotency records, sent outbox messages, webhook deliveries and read notifications past
        # their retention period (smartcity.retention), at night when nobody files.
        "name": "retention purge",
        "task": RETENTION_TASK,
        "crontab": {"minute": "15", "hour": "3"},
    },
]

_CRONTAB_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")


def schedules_install(
    *, schedules: list[dict[str, Any]] | None = None, context: ChangeContext | None = None
) -> dict[str, int]:
    """Create each declared periodic task that does not exist yet (by name); never touch an existing one."""
    schedules = DEFAULT_SCHEDULES if schedules is None else schedules
    context = context or ChangeContext.command()
    created = 0
    with transaction.atomic():
        for entry in schedules:
            if PeriodicTask.objects.filter(name=entry["name"]).exists():
                continue
            periodic_task = PeriodicTask(name=entry["name"], task=entry["task"], **_schedule_for(entry))
            periodic_task.full_clean()
            periodic_task.save()
            audit_record(
                context=context, action="create", instance=periodic_task, before=None, after=snapshot(periodic_task)
            )
            created += 1
    return {"periodic_tasks": created}


def _schedule_for(entry: dict[str, Any]) -> dict[str, Any]:
    if "interval" in entry:
        # Schedules are shared rows: reuse an identical one rather than piling up duplicates.
        lookup = {"every": entry["interval"]["every"], "period": entry["interval"]["period"]}
        interval = IntervalSchedule.objects.filter(**lookup).first() or IntervalSchedule.objects.create(**lookup)
        return {"interval": interval}
    if "crontab" in entry:
        fields = {name: str(entry["crontab"].get(name, "*")) for name in _CRONTAB_FIELDS}
        lookup = {**fields, "timezone": ZoneInfo(SCHEDULE_TIMEZONE)}
        crontab = CrontabSchedule.objects.filter(**lookup).first() or CrontabSchedule.objects.create(**lookup)
        return {"crontab": crontab}
    raise ValueError(f"Schedule {entry['name']!r} needs an 'interval' or a 'crontab'.")
