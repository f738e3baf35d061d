"""Celery entry point for the fault-injection tests (``celery -A tests.fault_worker worker``).

It is the project's own app (``smartcity.celery.app``: its settings, tasks and routing), plus test-only
hooks switched on by environment variables, so that ``tests/test_faults.py`` can stop a real worker at
a known point instead of relying on timing luck:

- ``FAULTS_HANG_AT``: comma-separated ``module:attribute`` targets (``pilots.services.reminders.channels:EmailChannel.deliver``)
  sharing one call counter; call number ``FAULTS_HANG_ON_CALL`` (default 1) writes the process id to
  ``FAULTS_HANG_MARKER`` and sleeps until the process is killed. Only once: when the marker already
  exists (a redelivery, a restarted worker) the call goes through.
- ``FAULTS_SWEEP_NOW_FILE``: a file holding an ISO datetime; ``reminders_sweep()`` runs at that instant
  (re-read on every sweep, so a test can move the sweep's clock past the claim timeout). Only the
  sweep's ``now`` is changed, not the process clock, which Redis's visibility timeout depends on.
- ``FAULTS_VISIBILITY_TIMEOUT``: seconds before Redis hands an unacknowledged message (its worker died)
  to another worker; production keeps 3600. The restore sweep is made to run every second.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import os
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartcity.settings")

import django  # noqa: E402

django.setup()

from smartcity.celery import app  # noqa: E402

__all__ = ["app"]


def _visibility_timeout() -> None:
    seconds = os.environ.get("FAULTS_VISIBILITY_TIMEOUT")
    if seconds:
        app.conf.broker_transport_options = {
            **app.conf.broker_transport_options, "visibility_timeout": float(seconds),
            "unacked_restore_interval": 1, "unacked_restore_throttle": 1,
        }


def _hang_hooks() -> None:
    targets = [t.strip() for t in os.environ.get("FAULTS_HANG_AT", "").split(",") if t.strip()]
    if not targets:
        return
    marker = Path(os.environ["FAULTS_HANG_MARKER"])
    on_call = int(os.environ.get("FAULTS_HANG_ON_CALL", "1"))
    calls = {"n": 0}

    def wrap(real):
        @functools.wraps(real)
        def hanging(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == on_call and not marker.exists():
                partial = marker.with_suffix(".tmp")
                partial.write_text(str(os.getpid()))
                partial.rename(marker)  # the test sees the marker whole or not at all
                while True:  # until SIGKILL
                    time.sleep(60)
            return real(*args, **kwargs)
        return hanging

    for target in targets:
        module_name, _, path = target.partition(":")
        owner = importlib.import_module(module_name)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        setattr(owner, name, wrap(getattr(owner, name)))


def _sweep_clock() -> None:
    now_file = os.environ.get("FAULTS_SWEEP_NOW_FILE")
    if not now_file:
        return
    from pilots.services import reminders

    real = reminders.reminders_sweep

    @functools.wraps(real)
    def sweep(*, now=None, channels=None):
        return real(now=now or dt.datetime.fromisoformat(Path(now_file).read_text().strip()), channels=channels)

    reminders.reminders_sweep = sweep  # pilots.tasks.send_reminders imports it at call time


_visibility_timeout()
_hang_hooks()
_sweep_clock()
