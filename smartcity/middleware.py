"""Request IDs: every request gets one, every response carries it, every log line and audit row names it."""

from __future__ import annotations

import logging
import re
import time
import uuid

from django.conf import settings

from smartcity.logs import log_request
from smartcity.request_ids import current_request_id

__all__ = ["ContentSecurityPolicyMiddleware", "RequestIdLogFilter", "RequestIdMiddleware", "current_request_id"]

# A caller may pass its own ID (a gateway's trace ID); anything else is replaced, so that log
# lines and audit rows never carry attacker-chosen text.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


class RequestIdMiddleware:
    header = "X-Request-ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(self.header, "")
        request_id = incoming if _ACCEPTABLE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = current_request_id.set(request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[self.header] = request_id
            log_request(request, response, duration_ms=(time.monotonic() - started) * 1000)
        finally:
            current_request_id.reset(token)
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id.get()
        if request_id == "-":  # django.request logs a failed response after the middleware has returned
            request_id = getattr(getattr(record, "request", None), "request_id", "-")
        record.request_id = request_id
        return True


class ContentSecurityPolicyMiddleware:
    """A strict Content-Security-Policy on the pages people use (dashboard, sign-in).

    Those pages load only their own static files and call only this origin's API, so nothing else is
    allowed: an injected script or a link to a foreign host is refused by the browser. The API docs
    pages are left out: Swagger UI and Redoc run inline scripts of their own.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.prefixes = tuple(settings.CSP_PATH_PREFIXES)
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(self.prefixes) and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        return response
