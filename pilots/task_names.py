"""The names of the pilots app's Celery tasks (``pilots/tasks.py``), for the code that enqueues them.

A service sends a task by name through the outbox (``smartcity.outbox.outbox_enqueue``) rather than
importing the task: the name is the contract between the message and the worker, written here once.
(``smartcity/schedules.py`` spells the periodic ones out: the platform imports no domain module.)
"""

RECOMPUTE_PILOT_COMPLETION = "pilots.recompute_pilot_completion"
RECOMPUTE_ALL_COMPLETION = "pilots.recompute_all_completion"
SEND_REMINDERS = "pilots.send_reminders"
REFRESH_OVERDUE = "pilots.refresh_overdue"
DELIVER_WEBHOOKS = "pilots.deliver_webhooks"
SEND_WEBHOOK = "pilots.send_webhook"
CALENDAR_YEAR_NOTICES = "pilots.calendar_year_notices"
GENERATE_BULLETIN = "pilots.generate_bulletin"
SCHEDULE_BULLETINS = "pilots.schedule_bulletins"
SEND_INVITATION = "pilots.send_invitation"
