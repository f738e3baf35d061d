"""Liveness, readiness and the worker heartbeat that /readyz reports."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from django.db import OperationalError
from django.utils import timezone

from smartcity import health
from smartcity.celery import app as celery_app
from smartcity.models import WorkerHeartbeat
from smartcity.tasks import record_heartbeat


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def test_healthz_answers_without_touching_the_database(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_ready_when_database_and_broker_answer(client):
    response = client.get("/readyz")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"database": {"ok": True}, "broker": {"ok": True}}
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_readyz_unavailable_names_the_broker_when_it_is_unreachable(client, monkeypatch):
    closed = f"redis://127.0.0.1:{_closed_port()}/0"
    monkeypatch.setenv("CELERY_BROKER_URL", closed)  # Celery prefers this variable over its conf
    monkeypatch.setitem(celery_app.conf, "broker_url", closed)
    monkeypatch.setitem(celery_app.conf, "broker_transport_options", {})

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["broker"]["reason"]


class _UnreachableDatabase:
    vendor = "postgresql"

    def cursor(self):
        raise OperationalError('connection to server at "127.0.0.1", port 1 failed: Connection refused')


@pytest.mark.django_db
def test_readyz_unavailable_names_the_database_when_it_is_unreachable(client, monkeypatch):
    monkeypatch.setattr(health, "connection", _UnreachableDatabase())

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["database"]["reason"].startswith("OperationalError: connection to server")
    assert body["checks"]["broker"] == {"ok": True}
    assert body["worker"] == {"ok": False, "last_seen": None}


# --- Worker heartbeat: reported, never decisive -----------------------------------------------------


@pytest.mark.django_db
def test_readyz_reports_no_worker_but_stays_ready(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["worker"] == {"ok": False, "last_seen": None}


@pytest.mark.django_db
def test_readyz_reports_a_recent_worker_heartbeat(client):
    seen = timezone.now() - dt.timedelta(seconds=30)
    WorkerHeartbeat.objects.create(hostname="celery@a", seen_at=seen - dt.timedelta(hours=1))
    WorkerHeartbeat.objects.create(hostname="celery@b", seen_at=seen)

    worker = client.get("/readyz").json()["worker"]

    assert worker["ok"] is True
    assert dt.datetime.fromisoformat(worker["last_seen"]) == seen


@pytest.mark.django_db
def test_readyz_reports_a_stale_worker_heartbeat_as_not_ok_yet_ready(client):
    WorkerHeartbeat.objects.create(
        hostname="celery@a", seen_at=timezone.now() - health.WORKER_HEARTBEAT_MAX_AGE - dt.timedelta(seconds=1)
    )

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["worker"]["ok"] is False
    assert response.json()["worker"]["last_seen"] is not None


@pytest.mark.django_db
def test_record_heartbeat_upserts_one_row_per_worker():
    record_heartbeat.apply()
    first = WorkerHeartbeat.objects.get()

    record_heartbeat.apply()

    again = WorkerHeartbeat.objects.get()
    assert again.pk == first.pk
    assert again.seen_at >= first.seen_at
    assert again.hostname == socket.gethostname()


def test_record_heartbeat_keeps_its_registered_name():
    assert record_heartbeat.name == "smartcity.tasks.record_heartbeat"
    assert "smartcity.tasks.record_heartbeat" in celery_app.tasks
