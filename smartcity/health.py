"""Liveness and readiness probes for the orchestrator (and for people)."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from kombu import Connection

from smartcity.celery import app as celery_app
from smartcity.models import WorkerHeartbeat
from smartcity.timefmt import local_iso


@never_cache
def healthz(request):
    """The process answers. Touches nothing else, so a database outage does not restart web workers."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001  (any failure means "not ready"; the reason is reported)
        return f"{type(exc).__name__}: {exc}".strip()[:300]
    return None


def _check_broker() -> str | None:
    try:
        with Connection(
            celery_app.conf.broker_url,
            transport_options=celery_app.conf.broker_transport_options,
            connect_timeout=2,
        ) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}".strip()[:300]
    return None


# A worker counts as alive when its latest heartbeat is at most this old. Beat sends
# ``smartcity.tasks.record_heartbeat`` every minute (smartcity.schedules), so this allows a few misses.
WORKER_HEARTBEAT_MAX_AGE = dt.timedelta(minutes=5)


def _worker_info() -> dict:
    """The newest worker heartbeat. Information only: a stopped worker does not make web unready."""
    try:
        latest = WorkerHeartbeat.objects.order_by("-seen_at").values_list("seen_at", flat=True).first()
    except Exception:  # noqa: BLE001  (reported as unknown; the database check gives the reason)
        latest = None
    ok = latest is not None and timezone.now() - latest <= WORKER_HEARTBEAT_MAX_AGE
    return {"ok": ok, "last_seen": local_iso(latest)}


@never_cache
def readyz(request):
    """Database and broker reachable: 200, else 503 with the reason for each failed check.

    ``worker`` (the newest heartbeat of any Celery worker) is reported beside the checks but does not
    affect the status: web can serve while the worker is restarting, and queued tasks wait for it.
    """
    checks = {"database": _check_database(), "broker": _check_broker()}
    ready = all(reason is None for reason in checks.values())
    body = {
        "status": "ready" if ready else "unavailable",
        "checks": {name: {"ok": reason is None, **({"reason": reason} if reason else {})} for name, reason in checks.items()},
        "worker": _worker_info() if checks["database"] is None else {"ok": False, "last_seen": None},
    }
    return JsonResponse(body, status=200 if ready else 503)
