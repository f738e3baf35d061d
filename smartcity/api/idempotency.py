"""``Idempotency-Key`` on POST: a retry with the same key and body replays the first answer.

A clerk on a bad network presses "submit" twice, or a client library retries a timed-out request:
either way the report is filed once. The record of the key is written in the same transaction as
the change itself, so the two stand or fall together.

A key is replayed for ``IDEMPOTENCY_RETENTION_DAYS`` (default 7) after its first use, exactly as long as
the retention purge keeps its record; an older record is ignored (and deleted) even before the purge runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from smartcity.api.errors import ErrorSerializer
from smartcity.models import IdempotencyRecord

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces
REPLAYED_HEADERS = ("ETag", "Location")


def replay_window() -> dt.timedelta:
    """How long a key is replayed: as long as its record is kept (``IDEMPOTENCY_RETENTION_DAYS``)."""
    return dt.timedelta(days=settings.IDEMPOTENCY_RETENTION_DAYS)


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = _("This Idempotency-Key was already used for a different request; use a new key.")
    default_code = "idempotency_key_reused"


class _Replay(Exception):
    def __init__(self, record: IdempotencyRecord):
        self.record = record


def _request_fingerprint(request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.path.encode())
    data = request.data
    files = getattr(request, "FILES", {}) or {}
    if hasattr(data, "lists"):  # a form or multipart body: files are hashed by content below
        plain = {name: values for name, values in data.lists() if name not in files}
    else:
        plain = data
    digest.update(json.dumps(plain, sort_keys=True, default=str).encode())
    for name in sorted(files):
        for upload in files.getlist(name):
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
    return digest.hexdigest()


class IdempotentPostMixin:
    """Mix into a view: every POST honours an optional ``Idempotency-Key`` header."""

    def dispatch(self, request, *args, **kwargs):
        if request.method == "POST" and request.headers.get(HEADER):
            try:
                with transaction.atomic():
                    response = super().dispatch(request, *args, **kwargs)
                    if response.status_code >= 400:
                        # A refused request changed nothing and must leave no key behind: the client may
                        # retry with the same key once it has fixed the problem.
                        transaction.set_rollback(True)
                    return response
            except (OperationalError, InterfaceError) as exc:
                # The database went away as the transaction began or committed, outside DRF's own error
                # handling: answer with the API's 503, not a bare 500. A retry with the same key files the
                # change, or replays it if the commit did land (the key is recorded in that transaction).
                return self._database_unavailable(exc, request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def _database_unavailable(self, exc, request, *args, **kwargs):
        """What DRF's ``dispatch`` does with an exception, for one raised before or after it ran."""
        self.args, self.kwargs = args, kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        self.response = self.finalize_response(request, self.handle_exception(exc), *args, **kwargs)
        return self.response

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        key = request.headers.get(HEADER)
        if request.method != "POST" or not key:
            return
        if not _KEY.match(key):
            raise ValidationError({HEADER: [_("1 to 255 printable ASCII characters without spaces.")]})
        fingerprint = _request_fingerprint(request)
        # Past the replay window a key is forgotten, as the retention purge forgets it: a new request.
        IdempotencyRecord.objects.filter(user=request.user, key=key,
                                         created_at__lt=timezone.now() - replay_window()).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=request.user, key=key, method=request.method, path=request.path[:500],
                    request_hash=fingerprint,
                )
        except IntegrityError:
            # Either an earlier attempt committed, or a concurrent one just did (the insert waited for it).
            existing = IdempotencyRecord.objects.get(user=request.user, key=key)
            if existing.request_hash != fingerprint:
                raise IdempotencyKeyReused() from None
            raise _Replay(existing) from None
        request._idempotency_record = record

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            record = exc.record
            response = Response(record.response_body, status=record.status_code)
            for name, value in record.response_headers.items():
                response[name] = value
            response["Idempotent-Replayed"] = "true"
            return response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        record = getattr(request, "_idempotency_record", None)
        if record is not None and response.status_code < 400:
            body = json.loads(JSONRenderer().render(response.data)) if response.data is not None else None
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                status_code=response.status_code,
                response_body=body,
                response_headers={h: response[h] for h in REPLAYED_HEADERS if response.has_header(h)},
            )
        return response


IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=HEADER,
    location=OpenApiParameter.HEADER,
    required=False,
    type=str,
    description=(
        "A unique key per intended change (e.g. a UUID). Retrying with the same key and body returns the "
        "original response (header `Idempotent-Replayed: true`) and writes nothing; the same key with a "
        f"different body is a 422. Keys are remembered per user for {settings.IDEMPOTENCY_RETENTION_DAYS} days "
        "(`IDEMPOTENCY_RETENTION_DAYS`); after that the same key is a new request."
    ),
)
IDEMPOTENCY_RESPONSES = {
    422: OpenApiResponse(ErrorSerializer, description="The Idempotency-Key was used before for a different request."),
}
