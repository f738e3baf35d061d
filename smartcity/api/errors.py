"""One error shape for the whole API, produced here and nowhere else.

    {"status": 400, "code": "invalid", "detail": "…",
     "errors": [{"field": "percent_complete", "code": "max_value", "message": "…"}],
     "request_id": "…"}

``errors`` lists one entry per offending field (dotted paths for nested input, ``null`` for
errors that belong to no single field) so that a client can put each message beside its input.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from rest_framework import exceptions, serializers, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from smartcity.concurrency import StaleVersion
from smartcity.exceptions import InvalidTransition
from smartcity.request_ids import current_request_id

logger = logging.getLogger(__name__)


class ErrorItemSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="Dotted path of the offending input field, or null.")
    code = serializers.CharField(help_text="Machine-readable rule that failed, e.g. `required`, `max_value`.")
    message = serializers.CharField(help_text="Human-readable message, in the request's language.")


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx and 5xx response."""

    status = serializers.IntegerField()
    code = serializers.CharField()
    detail = serializers.CharField()
    errors = ErrorItemSerializer(many=True)
    request_id = serializers.CharField()


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _lazy("The object is not in a state that allows this action.")
    default_code = "invalid_state"


class PreconditionRequired(exceptions.APIException):
    """A change without ``If-Match`` (``smartcity.api.concurrency`` asks for it)."""

    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = _lazy("Send the ETag you last read in an If-Match header, so that no one else's change is lost.")
    default_code = "if_match_required"


class PreconditionFailed(exceptions.APIException):
    """A change against a version that is no longer current (a stale ``If-Match``, or ``StaleVersion``)."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = _lazy("Someone changed this since you read it: fetch it again and reapply your change.")
    default_code = "precondition_failed"


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _lazy("The request body is larger than this service accepts.")
    default_code = "request_too_large"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _lazy("The database is unavailable; try again shortly.")
    default_code = "service_unavailable"


def error_body(status_code: int, code: str, detail: str, errors: list[dict[str, Any]] | None = None) -> dict:
    return {
        "status": status_code,
        "code": code,
        "detail": str(detail),
        "errors": errors or [],
        "request_id": current_request_id.get(),
    }


def _text(value: Any) -> str:
    """A message that can be sent: a lone surrogate echoed from the input (``\\ud800``) cannot be UTF-8."""
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def _flatten(detail: Any, codes: Any, path: str | None) -> list[dict[str, Any]]:
    """Turn DRF's nested error detail into a flat list of {field, code, message}."""
    if isinstance(detail, dict):
        items = []
        for key, value in detail.items():
            sub_codes = codes.get(key) if isinstance(codes, dict) else codes
            if key in (api_settings.NON_FIELD_ERRORS_KEY, "__all__"):
                sub_path = path
            else:
                sub_path = f"{path}.{key}" if path else str(key)
            items.extend(_flatten(value, sub_codes, sub_path))
        return items
    if isinstance(detail, list):
        items = []
        code_list = codes if isinstance(codes, list) else [codes] * len(detail)
        for index, (value, code) in enumerate(zip(detail, code_list)):
            if isinstance(value, (dict, list)):
                # A list of nested objects: index it so a client can find the row.
                items.extend(_flatten(value, code, f"{path}[{index}]" if path else f"[{index}]"))
            else:
                items.extend(_flatten(value, code, path))
        return items
    field = None if path is None else _text(path)
    return [{"field": field, "code": str(codes or "invalid"), "message": _text(detail)}]


def _django_error_detail(exc: DjangoValidationError) -> dict[str, list[ErrorDetail]]:
    """A Django ValidationError as DRF detail, keeping each message's code (``max_value``, ``duplicate``…)."""
    error_dict = exc.error_dict if hasattr(exc, "error_dict") else {api_settings.NON_FIELD_ERRORS_KEY: exc.error_list}
    return {
        field: [ErrorDetail(message, code=error.code or "invalid") for error in errors for message in error]
        for field, errors in error_dict.items()
    }


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, StaleVersion):
        exc = PreconditionFailed()
    elif isinstance(exc, InvalidTransition):
        exc = Conflict(str(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_django_error_detail(exc))
    elif isinstance(exc, RequestDataTooBig):  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE, met while parsing
        exc = RequestTooLarge()
    elif isinstance(exc, TooManyFieldsSent):  # DATA_UPLOAD_MAX_NUMBER_FIELDS
        exc = exceptions.ParseError(_("The request has too many form fields."), code="too_many_fields")
    elif isinstance(exc, TooManyFilesSent):  # DATA_UPLOAD_MAX_NUMBER_FILES
        exc = exceptions.ParseError(_("The request has too many files."), code="too_many_files")
    elif isinstance(exc, (OperationalError, InterfaceError)):
        logger.warning("database unavailable: %s", exc)
        exc = ServiceUnavailable()
    elif isinstance(exc, DatabaseError):
        return None  # a real bug: let it surface as a 500 with its traceback

    if not isinstance(exc, exceptions.APIException):
        return None

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail, exc.get_codes(), None)
        body = error_body(exc.status_code, "invalid", _("The request has invalid fields."), errors)
    else:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        body = error_body(exc.status_code, code, exc.detail if isinstance(exc.detail, str) else str(exc.detail))
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


def json_error_response(status_code: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(error_body(status_code, code, detail), status=status_code)
