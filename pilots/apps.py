from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PilotsConfig(AppConfig):
    name = "pilots"
    verbose_name = _("Pilots and progress")

    def ready(self):
        from pilots.metrics import pilots_metrics
        from smartcity.metrics import register_collector

        register_collector("pilots", pilots_metrics)

        from pilots.services.calendar import calendar_deadlines_moved
        from smartcity.working_calendar import calendar_changed

        calendar_changed.connect(calendar_deadlines_moved, dispatch_uid="pilots.calendar_deadlines_moved")
