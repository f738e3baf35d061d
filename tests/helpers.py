"""Small helpers for API tests."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rest_framework.test import APIClient

from tests.factories import bearer


def services_required() -> bool:
    """``REQUIRE_SERVICES=1`` (CI): a missing service or tool fails a test instead of skipping it."""
    return os.environ.get("REQUIRE_SERVICES", "").strip().lower() in {"1", "true", "yes", "on"}


def missing_tool(message: str) -> None:
    """A test cannot run without something not installed here: a failure in CI, a skip on a laptop."""
    if services_required():
        pytest.fail(f"REQUIRE_SERVICES=1: {message}", pytrace=False)
    pytest.skip(message)


def client_for(user, *, can_write: bool = False) -> APIClient:
    """An API client that authenticates as ``user`` with a fresh bearer token, as an integrator would."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=bearer(user, can_write=can_write))
    return client


def error_fields(response) -> set[str | None]:
    """The field names an error response complains about."""
    return {item["field"] for item in response.json()["errors"]}


class Receiver:
    """A local HTTP server on 127.0.0.1 that records every POST and answers ``status``."""

    def __init__(self, status: int = 204, headers: dict[str, str] | None = None):
        self.status = status
        self.headers = dict(headers or {})  # sent with every answer, e.g. a redirect's Location
        self.received: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def bodies(self) -> list[bytes]:
        return [body for _headers, body in self.received]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
