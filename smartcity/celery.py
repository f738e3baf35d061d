"""The Celery application.

Periodic schedules are rows in django-celery-beat's tables so that the provincial office can change
them in the admin; their defaults are declared once, in ``smartcity.schedules``, and installed by
``manage.py bootstrap`` without overwriting what the office has edited.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartcity.settings")

app = Celery("smartcity")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Signal handlers: request IDs and task log lines (smartcity.logs), last runs of periodic jobs (smartcity.jobs).
import smartcity.jobs  # noqa: E402,F401
import smartcity.logs  # noqa: E402,F401
