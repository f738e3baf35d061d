"""The request ID of the request or task being handled: set by ``RequestIdMiddleware`` for a request and by
``task_prerun`` (``smartcity.logs``) for a task; read by log lines, audit rows, the error format and the outbox."""

from __future__ import annotations

from contextvars import ContextVar

current_request_id: ContextVar[str] = ContextVar("current_request_id", default="-")
