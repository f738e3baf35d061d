"""``GET /metrics``: the gauges operators alert on, in Prometheus' text format.

Every value is read from the database when the scraper asks, by collectors (``collect()`` yields
metric families), so the answer is the same whichever gunicorn worker gives it and no process keeps
counters of its own (no multiprocess mode needed). The platform's own collector reports the outbox,
the workers' heartbeats and the periodic jobs; a domain app adds its gauges with
``register_collector`` in its ``AppConfig.ready()``, so the platform never imports it.

Each collector issues a fixed number of aggregate queries: a scrape costs the same for 1 row or 1
million (tests/test_metrics.py counts them).

Only a scraper that presents ``METRICS_TOKEN`` as a bearer token, or connects from one of
``METRICS_ALLOWED_NETWORKS``, is answered; anyone else gets 403, and with neither set, 404.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db.models import Count, Min
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from smartcity.api.errors import json_error_response

logger = logging.getLogger(__name__)

_collectors: dict[str, Callable[[], Iterable[Metric]]] = {}


def register_collector(name: str, collect: Callable[[], Iterable[Metric]]) -> None:
    """Add ``collect`` (yields metric families) to every scrape. Registering a name again replaces it."""
    _collectors[name] = collect


def age_seconds(moment) -> float:
    """Seconds since ``moment``; +Inf when it never happened (an alert on "older than" then fires)."""
    if moment is None:
        return math.inf
    return max((timezone.now() - moment).total_seconds(), 0.0)


class _Registered(Collector):
    def collect(self):
        for name, collect in list(_collectors.items()):
            try:
                yield from collect()
            except Exception:  # noqa: BLE001  (one broken collector must not hide every other gauge)
                logger.exception("metrics: collector %s failed", name)
                failed = GaugeMetricFamily("smartcity_metrics_collector_failed",
                                           "1 when a collector failed during this scrape (see the log).",
                                           labels=["collector"])
                failed.add_metric([name], 1)
                yield failed


def render_metrics() -> bytes:
    """The text a scrape returns: every registered collector's families, in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Registered())
    return generate_latest(registry)


def platform_metrics():
    """The platform's gauges: outbox backlog, worker heartbeat, last successful run of each periodic job."""
    from smartcity.models import JobRun, OutboxMessage, WorkerHeartbeat

    pending = OutboxMessage.objects.filter(dispatched_at__isnull=True).order_by()
    backlog = pending.aggregate(oldest=Min("created_at"), count=Count("pk"))
    oldest = backlog["oldest"]
    yield GaugeMetricFamily("smartcity_outbox_oldest_unsent_age_seconds",
                            "Age of the oldest outbox message not yet sent to the broker (0 when none).",
                            value=age_seconds(oldest) if oldest is not None else 0.0)
    yield GaugeMetricFamily("smartcity_outbox_unsent_messages", "Outbox messages not yet sent to the broker.",
                            value=backlog["count"])

    newest = WorkerHeartbeat.objects.order_by("-seen_at").values_list("seen_at", flat=True).first()
    yield GaugeMetricFamily("smartcity_worker_heartbeat_age_seconds",
                            "Seconds since any Celery worker last recorded its heartbeat (+Inf: never).",
                            value=age_seconds(newest))

    jobs = GaugeMetricFamily("smartcity_job_last_success_age_seconds",
                             "Seconds since each periodic job (Celery task) last finished successfully.",
                             labels=["task"])
    for task, finished_at in JobRun.objects.order_by("task").values_list("task", "finished_at"):
        jobs.add_metric([task], age_seconds(finished_at))
    yield jobs


register_collector("platform", platform_metrics)


# --- The view ----------------------------------------------------------------------------------

def _bearer_token(request) -> str:
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _from_allowed_network(request) -> bool:
    from smartcity.auth.lockout import client_address

    try:
        address = ipaddress.ip_address(client_address(request))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr) for cidr in settings.METRICS_ALLOWED_NETWORKS)


def scraper_allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    if token and hmac.compare_digest(_bearer_token(request).encode(), token.encode()):
        return True
    return _from_allowed_network(request)


@never_cache
@require_GET
def metrics_view(request):
    if not settings.METRICS_TOKEN and not settings.METRICS_ALLOWED_NETWORKS:
        return json_error_response(404, "not_found", _("No such endpoint."))  # switched off: as if absent
    if not scraper_allowed(request):
        return json_error_response(403, "permission_denied", _("This scraper is not allowed to read the metrics."))
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)
