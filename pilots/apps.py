from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PilotsConfig(AppConfig):
    name = "pilots"
    verbose_name = _("Pilots and progress")

    def ready(self):
        from pilots.selectors.placement import user_placement
        from smartcity.auth.access import placement_resolver_register

        placement_resolver_register(user_placement)  # who a user is, for the access policy

        from pilots.metrics import pilots_metrics
        from smartcity.metrics import register_collector

        register_collector("pilots", pilots_metrics)

        from pilots.services.calendar import calendar_deadlines_moved
        from smartcity.working_calendar import calendar_changed

        calendar_changed.connect(calendar_deadlines_moved, dispatch_uid="pilots.calendar_deadlines_moved")

        from smartcity.retention import RetentionPolicy, retention_register

        # Retries end within hours (exponential backoff, then given up); the log is kept for 90 days.
        retention_register(RetentionPolicy(model="pilots.WebhookDelivery", age_field="created_at",
                                           setting="WEBHOOK_DELIVERY_RETENTION_DAYS"))
        # Counted from reading; an unread notification (read_at NULL) never matches, so it stays.
        retention_register(RetentionPolicy(model="pilots.Notification", age_field="read_at",
                                           setting="NOTIFICATION_RETENTION_DAYS"))
