"""Run the whole service on one machine: web (gunicorn), a Celery worker and Celery beat.

Each runs as a child process; their output is interleaved here, each line prefixed with its name.
Ctrl-C or SIGTERM stops them all (SIGTERM, then SIGKILL after a timeout). If one of them exits on its
own, the others are stopped and this command exits non-zero, so a supervisor sees the failure.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

POLL_INTERVAL = 0.2
WEB_START_TIMEOUT = 60


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    reader: threading.Thread | None = field(default=None, repr=False)


class Command(BaseCommand):
    help = "Start web (gunicorn), a Celery worker and Celery beat as child processes; Ctrl-C stops them all."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"),
                            help="Address the web server binds to (default 127.0.0.1, or $HOST).")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")),
                            help="Port of the web server (default 8000, or $PORT).")
        parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes (default 2).")
        parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes (default 2).")
        parser.add_argument("--stop-timeout", type=float, default=20.0,
                            help="Seconds each child gets to exit after SIGTERM before it is killed (default 20).")

    # --- lifecycle -------------------------------------------------------------------------------------

    def handle(self, *args, **options):
        self._output_lock = threading.RLock()  # RLock: the signal handler may print from the main thread
        self._stop_requested: int | None = None
        var_dir = settings.VAR_DIR
        var_dir.mkdir(parents=True, exist_ok=True)
        python = sys.executable
        host, port = options["host"], options["port"]
        children = [
            Child("web", [
                python, "-m", "gunicorn", "smartcity.wsgi",
                "--bind", f"{host}:{port}",
                "--workers", str(options["web_workers"]),
                "--access-logfile", "-", "--error-logfile", "-",
                "--graceful-timeout", "10",
                "--no-control-socket",
            ]),
            Child("worker", [
                python, "-m", "celery", "-A", "smartcity", "worker",
                "--loglevel", "INFO", "--concurrency", str(options["concurrency"]),
            ]),
            Child("beat", [
                python, "-m", "celery", "-A", "smartcity", "beat",
                "--loglevel", "INFO",
                "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
                "--pidfile", str(var_dir / "celerybeat.pid"),
                "--schedule", str(var_dir / "celerybeat-schedule"),
            ]),
        ]

        previous_handlers = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            exit_code = self._run(children, host, port, options["stop_timeout"])
        finally:
            for sig, handler in previous_handlers.items():
                signal.signal(sig, handler)
        if exit_code:
            raise CommandError("runstack stopped because a child process exited; see its output above.",
                               returncode=exit_code)

    def _on_signal(self, signum, frame):
        if self._stop_requested is None:
            self._stop_requested = signum
            self._say(f"received {signal.Signals(signum).name}: stopping web, worker and beat…")

    def _run(self, children: list[Child], host: str, port: int, stop_timeout: float) -> int:
        env = child_environment(os.environ, host, port)
        try:
            # Every child is started before any reader thread, so no fork happens while a thread runs.
            for child in children:
                child.process = subprocess.Popen(
                    child.command, cwd=settings.BASE_DIR, env=env, stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                    # A group of its own: the terminal's Ctrl-C reaches only runstack, which then stops
                    # the children in order; killpg reaches a child's own workers too.
                    start_new_session=True,
                    preexec_fn=_die_with_parent,  # noqa: PLW1509  (no thread runs yet, see above)
                )
            for child in children:
                child.reader = threading.Thread(target=self._pump, args=(child,), daemon=True)
                child.reader.start()

            announced = False
            started = time.monotonic()
            while self._stop_requested is None:
                dead = [c for c in children if c.process.poll() is not None]
                if dead:
                    for child in dead:
                        self._say(f"{child.name} exited with code {child.process.returncode}; stopping the others.")
                    return 1
                if not announced and _port_open(host, port):
                    self._announce(host, port)
                    announced = True
                elif not announced and time.monotonic() - started > WEB_START_TIMEOUT:
                    self._say(f"web has not opened {host}:{port} after {WEB_START_TIMEOUT}s; still waiting.")
                    announced = True
                time.sleep(POLL_INTERVAL)
            return 0
        finally:
            self._stop_all(children, stop_timeout)

    def _stop_all(self, children: list[Child], timeout: float) -> None:
        running = [c for c in children if c.process is not None and c.process.poll() is None]
        for child in running:
            _signal_child(child.process, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in running:
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._say(f"{child.name} did not stop within {timeout:g}s; killing it.")
                _signal_group(child.process, signal.SIGKILL)
                child.process.wait()
        for child in children:
            if child.process is not None:
                # What a child's own workers left behind (gunicorn or celery pool processes).
                _signal_group(child.process, signal.SIGKILL)
        for child in children:
            if child.reader is not None:
                child.reader.join(timeout=2)
        summary = ", ".join(
            f"{c.name} {c.process.returncode}" for c in children if c.process is not None
        )
        self._say(f"all stopped ({summary}).")

    # --- output ----------------------------------------------------------------------------------------

    def _pump(self, child: Child) -> None:
        width = 6
        for raw in iter(child.process.stdout.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            with self._output_lock:
                self.stdout.write(f"{child.name:<{width}} | {line}")
                self.stdout.flush()
        child.process.stdout.close()

    def _say(self, message: str) -> None:
        with self._output_lock:
            self.stdout.write(self.style.WARNING(f"{'stack':<6} | {message}"))
            self.stdout.flush()

    def _announce(self, host: str, port: int) -> None:
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # nosec B104
        base = f"http://{shown_host}:{port}"
        database = settings.DATABASES["default"]
        broker = settings.CELERY_BROKER_URL.split("@")[-1]  # no password in the banner
        lines = [
            "",
            "=" * 72,
            "smartcity-tracker is running",
            "",
            f"  API             {base}/api/v1/pilots/  (spec {base}/api/schema/)",
            f"  API docs        {base}/api/docs/",
            f"  Admin           {base}/admin/",
            f"  Readiness       {base}/readyz",
            "",
            f"  Demo logins (password: {settings.DEMO_PASSWORD})",
            "    province      provincial office, reviewer",
            "    viewer        provincial office, read-only",
            "    integrator    read-only machine client (API)",
            "    pref-<code>   a prefecture office's reporter, e.g. pref-510100 (成都市)",
            "",
            f"  Database        {database['ENGINE'].rsplit('.', 1)[-1]} {database['NAME']}",
            f"  Broker          {broker}",
            f"  DEBUG           {settings.DEBUG}",
            *_static_warning(),
            "",
            "  Ctrl-C stops web, worker and beat.",
            "=" * 72,
            "",
        ]
        with self._output_lock:
            self.stdout.write(self.style.SUCCESS("\n".join(lines)))
            self.stdout.flush()


def child_environment(environ, host: str, port: int) -> dict[str, str]:
    """The children's environment: ``environ``, unbuffered, and ``SITE_URL`` on the port served when unset,
    so every link the web and the worker build points at this very server."""
    env = {**environ, "PYTHONUNBUFFERED": "1"}
    if not env.get("SITE_URL"):
        # A wildcard bind is reached through the loopback address; an IPv6 literal goes in brackets.
        shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)  # nosec B104
        if ":" in shown and not shown.startswith("["):
            shown = f"[{shown}]"
        env["SITE_URL"] = f"http://{shown}:{port}"
    return env


def _static_warning() -> list[str]:
    if settings.DEBUG or settings.WHITENOISE_USE_FINDERS:
        return []
    if (settings.STATIC_ROOT / "staticfiles.json").exists():
        return []
    return ["", "  Warning: DEBUG is off and `manage.py collectstatic` has not run; pages with static files fail."]


_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, get SIGTERM if runstack itself dies (even by SIGKILL)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _port_open(host: str, port: int) -> bool:
    target = "127.0.0.1" if host in ("0.0.0.0", "") else host  # nosec B104
    try:
        with socket.create_connection((target, port), timeout=0.5):
            return True
    except OSError:
        return False


def _signal_child(process: subprocess.Popen, sig: int) -> None:
    try:
        process.send_signal(sig)
    except ProcessLookupError:
        pass


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
