"""The pilots app's gauges on ``/metrics`` (registered with the platform in ``PilotsConfig.ready``).

Each is one aggregate query (the overdue counts: the reminder detectors' fixed set), so a scrape
costs the same however many reminders, subscriptions or items there are.
"""

from __future__ import annotations

from django.db.models import Count, Q
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from pilots import task_names
from smartcity.metrics import age_seconds
from smartcity.models import JobRun

# The Celery task of the nightly completion snapshot (smartcity.schedules, "nightly completion snapshot").
NIGHTLY_RECOMPUTE_TASK = task_names.RECOMPUTE_ALL_COMPLETION


def pilots_metrics():
    from pilots.models.reminders import Reminder, ReminderKind
    from pilots.models.webhooks import WebhookSubscription
    from pilots.selectors.overdue import overdue_counts_by_level

    subscriptions = WebhookSubscription.objects.order_by().aggregate(
        failing=Count("pk", filter=Q(active=True, consecutive_failures__gt=0)),
        disabled=Count("pk", filter=Q(active=False, disabled_at__isnull=False)),
    )
    yield GaugeMetricFamily("smartcity_webhook_subscriptions_failing",
                            "Active webhook subscriptions whose latest delivery failed.",
                            value=subscriptions["failing"])
    yield GaugeMetricFamily("smartcity_webhook_subscriptions_disabled",
                            "Webhook subscriptions disabled after too many failures in a row.",
                            value=subscriptions["disabled"])

    by_kind = {
        row["kind"]: row
        for row in Reminder.objects.order_by().values("kind").annotate(
            sent=Count("pk", filter=Q(sent_at__isnull=False)),
            failed=Count("pk", filter=Q(failed_at__isnull=False)),
            unsent=Count("pk", filter=Q(sent_at__isnull=True, failed_at__isnull=True)),
        )
    }
    sent = CounterMetricFamily("smartcity_reminders_sent", "Reminders delivered, by kind.", labels=["kind"])
    failed = CounterMetricFamily("smartcity_reminders_failed",
                                 "Reminders given up on (a retry cannot deliver them), by kind.", labels=["kind"])
    unsent = GaugeMetricFamily("smartcity_reminders_unsent", "Reminders recorded but not delivered yet, by kind.",
                               labels=["kind"])
    for kind in ReminderKind.values:
        row = by_kind.get(kind, {})
        sent.add_metric([kind], row.get("sent", 0))
        failed.add_metric([kind], row.get("failed", 0))
        unsent.add_metric([kind], row.get("unsent", 0))
    yield from (sent, failed, unsent)

    finished_at = JobRun.objects.filter(task=NIGHTLY_RECOMPUTE_TASK).values_list("finished_at", flat=True).first()
    yield GaugeMetricFamily("smartcity_completion_snapshot_age_seconds",
                            "Seconds since the nightly completion snapshot last finished (+Inf: never).",
                            value=age_seconds(finished_at))

    overdue = GaugeMetricFamily("smartcity_overdue_items", "Items due soon or overdue today, by reminder level.",
                                labels=["level"])
    for level, count in overdue_counts_by_level().items():
        overdue.add_metric([level], count)
    yield overdue
