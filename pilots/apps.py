from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PilotsConfig(AppConfig):
    name = "pilots"
    verbose_name = _("Pilots and progress")

    def ready(self):
        from pilots.metrics import pilots_metrics
        from smartcity.metrics import register_collector

        register_collector("pilots", pilots_metrics)
