"""Test-wide rules and the real Celery worker fixture.

DEBUG: pytest-django imports the settings before any conftest runs, so the settings themselves default
DEBUG to on under pytest (they look for PYTEST_VERSION, which pytest sets). The ``setdefault`` below
only covers tools that import this file some other way; the subprocesses started here pass DEBUG
explicitly.

Services: with no environment the tests run on SQLite and kombu's file-system broker. With
``DATABASE_URL`` / ``CELERY_BROKER_URL`` they run on PostgreSQL / Redis. Tests marked ``postgres`` are
skipped on SQLite, unless ``REQUIRE_SERVICES=1`` (CI), where they fail instead: CI must never pass
by skipping what it was meant to test.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

os.environ.setdefault("DEBUG", "true")

WORKER_READY_TIMEOUT = 60  # seconds; a cold start imports Django and connects to the broker
WORKER_STOP_TIMEOUT = 15


def _require_services() -> bool:
    return os.environ.get("REQUIRE_SERVICES", "").strip().lower() in {"1", "true", "yes", "on"}


def _xdist_id(config: pytest.Config) -> str:
    return getattr(config, "workerinput", {}).get("workerid", "main")


# --- Session set-up -------------------------------------------------------------------------------


def _run_dir() -> Path:
    """This test process's own folder under var/pytest/: its SQLite test database and broker queue.

    Several test runs can then share a checkout (two terminals, xdist workers, ``make test`` beside
    ``make run``) without deleting each other's database or taking each other's tasks.
    """
    from django.conf import settings

    return Path(settings.VAR_DIR) / "pytest" / str(os.getpid())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings
    from django.db import connection

    # Factories set a password on every user; the production hasher would make that the slowest step.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    from smartcity.celery import app

    run_dir = _run_dir()
    for stale in run_dir.parent.glob("*"):  # left by runs that were killed
        if stale.name.isdigit() and not _alive(int(stale.name)):
            shutil.rmtree(stale, ignore_errors=True)
    run_dir.mkdir(parents=True, exist_ok=True)

    if connection.vendor == "sqlite":
        # A file (not :memory:) so that the Celery worker started by a test can open it too.
        connection.settings_dict.setdefault("TEST", {})["NAME"] = str(run_dir / "test_smartcity.sqlite3")

    xdist_id = _xdist_id(config)
    if xdist_id != "main":
        # Each xdist process starts its own worker; a queue each keeps them apart on a shared Redis.
        app.conf.task_default_queue = f"pytest-{xdist_id}"

    if app.conf.broker_url.startswith("filesystem://"):
        broker_dir = run_dir / "broker"  # what the settings derive from VAR_DIR=run_dir in the worker
        options = dict(app.conf.broker_transport_options)
        for key, value in list(options.items()):
            if key.endswith("_folder") or key.startswith("data_folder_"):
                options[key] = str(broker_dir / Path(value).name)  # same layout, in our folder
                Path(options[key]).mkdir(parents=True, exist_ok=True)
        app.conf.broker_transport_options = options


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_run_dir(), ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> list[str]:
    from django.db import connection

    from smartcity.celery import app

    broker = urlsplit(app.conf.broker_url)
    where = f"{broker.hostname or ''}{':' + str(broker.port) if broker.port else ''}"
    required = "1" if _require_services() else "0"
    return [f"smartcity: database {connection.vendor}, broker {broker.scheme}://{where}, REQUIRE_SERVICES={required}"]


# --- The `postgres` marker rule -------------------------------------------------------------------


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") is None:
        return
    from django.db import connection

    if connection.vendor == "postgresql":
        return
    message = (
        f"marked `postgres` but the test database is {connection.vendor}; "
        "set DATABASE_URL=postgres://USER@HOST:PORT/NAME to run it"
    )
    if _require_services():
        pytest.fail(f"REQUIRE_SERVICES=1: {message}", pytrace=False)
    pytest.skip(message)


# --- A real Celery worker -------------------------------------------------------------------------


def _test_database_url() -> str:
    """DATABASE_URL of the test database pytest-django created (call after ``django_db_setup``)."""
    from django.conf import settings
    from django.db import connection

    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        path = Path(name).resolve()
        return f"sqlite:///{path}"
    parts = urlsplit(settings.DATABASE_URL)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(str(name)), parts.query, parts.fragment))


_TASK_RECEIVED = re.compile(r"Task \S+\[([0-9a-f-]+)\] received")
_TASK_FINISHED = re.compile(r"smartcity\.task \[[^\]]*\] task \S+ ([0-9a-f-]+) [A-Z]+")


@dataclass
class CeleryWorkerProcess:
    process: subprocess.Popen
    hostname: str
    log_path: Path

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no worker log)"
        return "\n".join(text.splitlines()[-lines:])

    def assert_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            pytest.fail(f"the Celery worker exited with {code}:\n{self.log_tail()}", pytrace=False)

    def unfinished_tasks(self) -> set[str]:
        """Ids of the tasks the worker has received and not yet finished (its log says both)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return set()
        received = set(_TASK_RECEIVED.findall(text))
        return received - set(_TASK_FINISHED.findall(text))

    def wait_idle(self, *, timeout: float = 30) -> None:
        """Until every task received so far has finished: the test's flush must not race a task of its own
        (a submission now enqueues a recompute and an overdue refresh; a test waits for the one it checks)."""
        self.wait_for(lambda: not self.unfinished_tasks(), timeout=timeout, what="the worker to finish its tasks")

    def wait_for(self, predicate, *, timeout: float = 30, what: str = "the worker to act"):
        """Poll ``predicate`` until it returns something truthy; fail with the worker's log after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            self.assert_alive()
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {what}; worker log:\n{self.log_tail()}",
                            pytrace=False)
            time.sleep(0.2)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # warm shutdown: finish the current task, then exit
    try:
        process.wait(WORKER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


@pytest.fixture(scope="session")
def celery_worker_process(request, django_db_setup, tmp_path_factory):
    """A real ``celery -A smartcity worker`` subprocess on the tests' broker and the test database.

    Tasks go through the broker (``.delay()``), not eager mode. Tests that use it need
    ``@pytest.mark.django_db(transaction=True)``: the worker sees only committed rows.
    """
    from smartcity.celery import app

    hostname = f"pytest-{_xdist_id(request.config)}@{socket.gethostname()}"  # the task's request.hostname
    queue = app.conf.task_default_queue

    database_url = _test_database_url()
    env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": app.conf.broker_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "PYTHONUNBUFFERED": "1",
        # The tests' webhook receivers listen on 127.0.0.1, which a worker refuses unless allowed.
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
    }
    if app.conf.broker_url.startswith("filesystem://"):
        env["VAR_DIR"] = str(_run_dir())  # its broker folder is then ours
    log_path = tmp_path_factory.mktemp("celery-worker") / "worker.log"
    command = [
        sys.executable, "-m", "celery", "-A", "smartcity", "worker",
        "--loglevel", "INFO", "--pool", "solo", "--queues", queue, "--hostname", hostname,
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]
    from django.conf import settings

    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    worker = CeleryWorkerProcess(process=process, hostname=hostname, log_path=log_path)
    try:
        worker.wait_for(lambda: " ready." in worker.log_path.read_text(errors="replace"),
                        timeout=WORKER_READY_TIMEOUT, what="the Celery worker to report ready")
        yield worker
    finally:
        _stop(process)


@pytest.fixture(autouse=True)
def _worker_idle_before_flush(request):
    """A test with the real worker ends once the worker has finished what the test gave it, before the
    transactional test's flush (set up earlier, so torn down later) truncates the tables under it."""
    yield
    if "celery_worker_process" in request.fixturenames:
        worker = request.getfixturevalue("celery_worker_process")
        if worker.process.poll() is None:
            worker.wait_idle()


@pytest.fixture(autouse=True)
def _seeded_calendar(request):
    """The migrations seed the working-day calendar, and a transactional test's flush empties it: a test
    with the database finds it seeded again (inside its own transaction, so at no cost when it is)."""
    if request.node.get_closest_marker("django_db") is None and not {"db", "transactional_db"} & set(
            request.fixturenames):
        yield
        return
    for name in ("transactional_db", "db"):
        if name in request.fixturenames:
            request.getfixturevalue(name)
            break
    from smartcity.calendar_seed import seed_calendar
    from smartcity.models import CalendarDay, CalendarRevision, CalendarYear

    seed_calendar(CalendarDay, CalendarYear, CalendarRevision)
    yield


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit and lockout counters live in the cache: each test starts with none. The working-day
    calendar's per-process copy is forgotten too: a test's calendar changes are rolled back with it."""
    from django.core.cache import cache

    from smartcity.workdays import calendar_forget

    cache.clear()
    calendar_forget()
    yield
    calendar_forget()
