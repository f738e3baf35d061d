from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SmartcityConfig(AppConfig):
    name = "smartcity"
    verbose_name = _("Platform: tokens and audit")

    def ready(self):
        from celery.signals import task_prerun
        from django.core.signals import request_started

        from smartcity.workdays import calendar_expire

        # Each request and task checks once whether another process changed the working-day calendar.
        request_started.connect(calendar_expire, dispatch_uid="smartcity.calendar_expire")
        task_prerun.connect(calendar_expire, dispatch_uid="smartcity.calendar_expire", weak=False)
