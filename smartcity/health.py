"""Liveness and readiness probes for the orchestrator (and for people)."""

from __future__ import annotations

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from kombu import Connection

from smartcity.celery import app as celery_app


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


@never_cache
def readyz(request):
    """Database and broker reachable: 200, else 503 with the reason for each failed check."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    ready = all(reason is None for reason in checks.values())
    body = {
        "status": "ready" if ready else "unavailable",
        "checks": {name: {"ok": reason is None, **({"reason": reason} if reason else {})} for name, reason in checks.items()},
    }
    return JsonResponse(body, status=200 if ready else 503)
