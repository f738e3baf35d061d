"""The service as production runs it, started for the benchmark: gunicorn and a Celery worker.

Same commands as ``manage.py runstack`` (prefork worker, gunicorn workers), with ``DEBUG`` off, a
throw-away ``SECRET_KEY``, the rate limits off (the benchmark measures the service, not the limiter)
and the benchmark's settings module, which adds the floor endpoint. Database and broker are the
caller's (``DATABASE_URL``, ``CELERY_BROKER_URL``).
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings

from smartcity.celery import app as celery_app


class StackError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_status_kb(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` field in kB (VmHWM: peak resident set size); 0 when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def child_pids(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Stack:
    """``with Stack(web_workers=3) as stack:`` serves on ``stack.base_url`` until the block ends."""

    def __init__(self, *, web_workers: int = 3, concurrency: int = 2, database_url: str | None = None,
                 broker_url: str | None = None):
        self.web_workers, self.concurrency = web_workers, concurrency
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_dir = Path(tempfile.mkdtemp(prefix="smartcity-bench-"))
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "pilots.benchmark.settings",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SITE_URL": self.base_url,
            "SECURE_SSL_REDIRECT": "false",
            "API_RATE_PER_TOKEN": "",
            "API_RATE_PER_IP": "",
            "DATABASE_URL": database_url or settings.DATABASE_URL,
            "CELERY_BROKER_URL": broker_url or celery_app.conf.broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "PYTHONUNBUFFERED": "1",
        }
        self.processes: dict[str, subprocess.Popen] = {}

    # --- life cycle ---------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        python = sys.executable
        self._start("web", [python, "-m", "gunicorn", "smartcity.wsgi", "--bind", f"127.0.0.1:{self.port}",
                            "--workers", str(self.web_workers), "--no-control-socket", "--error-logfile", "-"])
        self._start("worker", [python, "-m", "celery", "-A", "smartcity", "worker", "--loglevel", "INFO",
                               "--concurrency", str(self.concurrency), "--without-gossip", "--without-mingle",
                               "--hostname", f"bench-{self.port}@%h"])
        try:
            self._wait(lambda: self._answers("/healthz"), "gunicorn to answer /healthz")
            self._wait(lambda: " ready." in self.log("worker"), "the Celery worker to report ready")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)

    def _start(self, name: str, command: list[str]) -> None:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        self.processes[name] = subprocess.Popen(command, cwd=settings.BASE_DIR, env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                start_new_session=True)

    def _wait(self, predicate, what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise StackError(f"{name} exited with {process.returncode}:\n{self.log(name)[-3000:]}")
            if time.monotonic() > deadline:
                raise StackError(f"timed out waiting for {what}")
            time.sleep(0.2)

    def _answers(self, path: str) -> bool:
        try:
            return self.request("GET", path)[0] == 200
        except OSError:
            return False

    def log(self, name: str) -> str:
        try:
            return (self.log_dir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""

    # --- what the benchmark asks of it ----------------------------------------------------------

    def request(self, method: str, path: str, *, body: bytes | None = None, headers: dict | None = None
                ) -> tuple[int, dict, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def task_runtimes(self, task_name: str) -> list[float]:
        """Seconds each run of ``task_name`` took, from the worker's own log lines ("succeeded in 8.77s")."""
        pattern = re.compile(rf"Task {re.escape(task_name)}\[[^\]]+\] succeeded in ([0-9.]+)s")
        return [float(value) for value in pattern.findall(self.log("worker"))]

    def wait_for_task(self, task_name: str, count: int, timeout: float) -> list[float]:
        self._wait(lambda: len(self.task_runtimes(task_name)) >= count, f"{task_name} to succeed", timeout)
        return self.task_runtimes(task_name)

    def worker_peak_rss_mb(self) -> float:
        """The largest peak resident set (VmHWM) of the worker's pool processes, in MB."""
        worker = self.processes["worker"].pid
        pool = child_pids(worker)
        return max([read_status_kb(pid, "VmHWM") for pid in pool] or [read_status_kb(worker, "VmHWM")]) / 1024
