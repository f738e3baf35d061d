"""Log lines operators read: one per request, one per Celery task, each naming its request ID.

``LOG_FORMAT=json`` writes every line as one JSON object (``JsonFormatter``), ``text`` (the default)
as a readable line. The request ID comes from ``smartcity.middleware.current_request_id``: the
middleware sets it for a request, ``task_prerun`` for a task, from the message header
``REQUEST_ID_HEADER`` that ``before_task_publish`` (or the outbox, for work it relays later) puts
there. So the task a request causes logs with that request's ID, on whichever worker it runs.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

from celery import signals
from django.utils.functional import SimpleLazyObject, empty

from smartcity.request_ids import current_request_id

REQUEST_ID_HEADER = "smartcity_request_id"

request_logger = logging.getLogger("smartcity.request")
task_logger = logging.getLogger("smartcity.task")

# The attributes every LogRecord has; anything else on a record was passed in ``extra=`` and is a field.
_RECORD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request ID and the fields passed in ``extra``."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", current_request_id.get()),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def log_request(request, response, *, duration_ms: float) -> None:
    """The one line of a finished request (called by ``RequestIdMiddleware``)."""
    from smartcity.auth.lockout import client_address

    user = vars(request).get("user")
    if isinstance(user, SimpleLazyObject):
        # Only a user something already looked up: resolving it here would cost a session query on
        # requests that never needed one (/healthz, static files).
        user = None if user._wrapped is empty else user._wrapped
    user_id = user.pk if user is not None and user.is_authenticated else None
    request_logger.info(
        "%s %s %s %.1f ms", request.method, request.path, response.status_code, duration_ms,
        extra={"method": request.method, "path": request.path, "status": response.status_code,
               "duration_ms": round(duration_ms, 1), "user_id": user_id, "remote_addr": client_address(request)},
    )


# --- Celery ------------------------------------------------------------------------------------
# Connected when this module is imported (smartcity.celery imports it, in web and worker alike).

@signals.before_task_publish.connect
def _carry_request_id(sender=None, headers=None, **kwargs):
    """A task sent while handling a request carries the request's ID (unless its sender set one)."""
    if headers is not None and not headers.get(REQUEST_ID_HEADER):
        request_id = current_request_id.get()
        if request_id != "-":
            headers[REQUEST_ID_HEADER] = request_id


# Per task id: (context token, start time). A task runs in one thread, prerun and postrun in it.
_running: dict[str, tuple[object, float]] = {}


@signals.task_prerun.connect
def _task_started(task_id=None, task=None, **kwargs):
    # A worker sees the message's custom headers as attributes of the request, ``apply()`` in ``headers``;
    # an eager task (run in the request's own thread) keeps the request's ID.
    request_id = (getattr(task.request, REQUEST_ID_HEADER, None) or (task.request.headers or {}).get(REQUEST_ID_HEADER)
                  or current_request_id.get())
    _running[task_id] = (current_request_id.set(request_id), time.monotonic())


@signals.task_postrun.connect
def _task_finished(task_id=None, task=None, state=None, **kwargs):
    token, started = _running.pop(task_id, (None, None))
    duration_ms = (time.monotonic() - started) * 1000 if started is not None else None
    try:
        task_logger.info(
            "task %s %s %s", task.name, task_id, state,
            extra={"task_name": task.name, "task_id": task_id, "state": state,
                   "duration_ms": round(duration_ms, 1) if duration_ms is not None else None},
        )
    finally:
        if token is not None:
            current_request_id.reset(token)


@signals.setup_logging.connect
def _use_django_logging(**kwargs):
    """The worker logs through ``settings.LOGGING`` (json or text), not Celery's own format."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
