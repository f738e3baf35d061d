"""Throwaway services for the fault-injection tests: a Redis server, a cuttable TCP proxy, processes.

Everything here listens on a spare port on 127.0.0.1 and is owned by the test that starts it; the
machine's shared PostgreSQL (5432) and Redis (6379) are never stopped or touched, only forwarded to.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import CeleryWorkerProcess, _test_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.1, diagnostics=lambda: ""):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}\n{diagnostics()}", pytrace=False)
        time.sleep(interval)


def _kill_group(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)


def _stop(process: subprocess.Popen, grace: float = 5) -> None:
    """SIGTERM, then SIGKILL for the whole process group (a worker's pool children included)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    _kill_group(process)


# --- A throwaway Redis ----------------------------------------------------------------------------

class ThrowawayRedis:
    """``redis-server`` on a spare port with no persistence: a SIGKILL loses everything it held."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = open(self.workdir / "redis.log", "ab")  # noqa: SIM115 (the child keeps it)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir), "--protected-mode", "no"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_until(self.ping, timeout=10, what=f"redis-server on port {self.port}")

    def ping(self) -> bool:
        import redis

        try:
            return redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5).ping()
        except redis.RedisError:
            return False

    def client(self):
        import redis

        return redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=2)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no save; connections are reset, the port refuses until ``start()``."""
        if self.process is not None:
            _kill_group(self.process)
        wait_until(lambda: not self.ping(), timeout=5, what="redis-server to be gone")

    def stop(self) -> None:
        if self.process is not None:
            _kill_group(self.process)


@contextlib.contextmanager
def throwaway_redis(workdir: Path) -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis(workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def celery_broker(url: str) -> Iterator[None]:
    """Point this process's Celery app (the outbox's sends) at ``url``; restore the tests' broker after.

    Celery prefers the CELERY_BROKER_URL variable over its configuration, so both change.
    """
    from smartcity.celery import app

    saved_env = os.environ.get("CELERY_BROKER_URL")
    saved = {key: app.conf[key] for key in ("broker_url", "broker_transport_options")}
    os.environ["CELERY_BROKER_URL"] = url
    app.conf.broker_url = url
    app.conf.broker_transport_options = {"visibility_timeout": 3600}  # the production value
    try:
        yield
    finally:
        if saved_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved_env
        for key, value in saved.items():
            app.conf[key] = value


def send_task(name: str, **kwargs) -> None:
    """What beat does: put ``name`` on the broker (a fresh connection, so the current broker URL counts)."""
    from smartcity.celery import app

    with app.connection_for_write() as connection:
        app.send_task(name, kwargs=kwargs, connection=connection)


# --- A real Celery worker on a given broker ---------------------------------------------------------

def start_worker(*, broker_url: str, workdir: Path, name: str, pool: str = "solo", env: dict | None = None,
                 ready_timeout: float = 60) -> CeleryWorkerProcess:
    """``celery -A tests.fault_worker worker`` (the project's app plus the hooks of ``tests.fault_worker``)."""
    from smartcity.celery import app

    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}.log"
    child_env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": _test_database_url(),
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "VAR_DIR": str(workdir / "var"),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    hostname = f"{name}-{os.getpid()}@{socket.gethostname()}"
    command = [
        sys.executable, "-m", "celery", "-A", "tests.fault_worker", "worker", "--loglevel", "INFO",
        "--pool", pool, "--concurrency", "1", "--queues", app.conf.task_default_queue, "--hostname", hostname,
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=child_env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    worker = CeleryWorkerProcess(process=process, hostname=hostname, log_path=log_path)
    try:
        worker.wait_for(lambda: " ready." in log_text(worker), timeout=ready_timeout,
                        what=f"worker {name} to report ready")
    except BaseException:
        _stop(process)
        raise
    return worker


def log_text(worker: CeleryWorkerProcess) -> str:
    try:
        return worker.log_path.read_text(errors="replace")
    except OSError:
        return ""


def stop_worker(worker: CeleryWorkerProcess | None) -> None:
    if worker is not None:
        _stop(worker.process)


def kill_worker(worker: CeleryWorkerProcess) -> None:
    """SIGKILL the whole worker (main process and pool children): no warm shutdown, nothing acknowledged."""
    _kill_group(worker.process)


# --- A TCP proxy the test can cut -------------------------------------------------------------------

class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``upstream``, one thread pair per connection.

    ``cut()`` closes every open connection and stops listening (new connections are refused);
    ``cut(blackhole=True)`` instead accepts new connections and never answers (a network that drops
    packets: the client's connect timeout decides); ``restore()`` forwards again on the same port.
    """

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._blackhole = False
        self.accepted = 0

    def start(self) -> TcpProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept_loop, args=(listener,), daemon=True).start()
        return self

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _address = listener.accept()
            except OSError:
                return  # the listener was shut down
            self.accepted += 1
            with self._lock:
                self._sockets.add(client)
            if self._blackhole:
                continue  # keep it open, say nothing
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                self._close(client)
                continue
            with self._lock:
                self._sockets.add(upstream)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            self._close(source)
            self._close(target)

    def _close(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()
        with self._lock:
            self._sockets.discard(sock)

    def _drop_all(self) -> None:
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            self._close(sock)

    def cut(self, *, blackhole: bool = False) -> None:
        self._drop_all()
        if blackhole:
            self._blackhole = True
            if self._listener is None:
                self.start()
            return
        self._stop_listening()

    def restore(self) -> None:
        self._drop_all()  # a blackholed connection never recovers; the client reconnects
        self._blackhole = False
        if self._listener is None:
            self.start()

    def _stop_listening(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the loop
            listener.close()

    def close(self) -> None:
        self._stop_listening()
        self._drop_all()


@contextlib.contextmanager
def tcp_proxy(upstream: tuple[str, int]) -> Iterator[TcpProxy]:
    proxy = TcpProxy(upstream).start()
    try:
        yield proxy
    finally:
        proxy.close()


# --- A web server subprocess ------------------------------------------------------------------------

@dataclass
class WebServer:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "gunicorn log:\n" + "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no gunicorn log)"


@contextlib.contextmanager
def gunicorn(*, database_url: str, broker_url: str | None, workdir: Path, env: dict | None = None
             ) -> Iterator[WebServer]:
    """``gunicorn smartcity.wsgi`` (one sync worker, as in production but one) on a spare port.

    ``broker_url=None``: the server's own file-system broker under ``workdir/var``, which no worker reads.
    """
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "gunicorn.log"
    child_env = {**os.environ, "DEBUG": "true", "DATABASE_URL": database_url, "VAR_DIR": str(workdir / "var"),
                 "PYTHONUNBUFFERED": "1", **(env or {})}
    if broker_url is None:
        child_env.pop("CELERY_BROKER_URL", None)
    else:
        child_env["CELERY_BROKER_URL"] = broker_url
    command = [sys.executable, "-m", "gunicorn", "smartcity.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
               "--timeout", "30", "--error-logfile", "-", "--no-control-socket"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=child_env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = WebServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)

    def answers() -> bool:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}\n{server.log_tail()}", pytrace=False)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    try:
        wait_until(answers, timeout=30, what="gunicorn to listen", diagnostics=server.log_tail)
        yield server
    finally:
        _stop(process)
