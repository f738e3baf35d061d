"""HTTP side of optimistic concurrency: ``ETag`` on reads, ``If-Match`` required on changes."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import status
from rest_framework.exceptions import APIException

from smartcity.api.errors import ErrorSerializer
from smartcity.concurrency import parse_etag


class PreconditionRequired(APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = _("Send the ETag you last read in an If-Match header, so that no one else's change is lost.")
    default_code = "if_match_required"


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = _("Someone changed this since you read it: fetch it again and reapply your change.")
    default_code = "precondition_failed"


def expected_version(request, instance) -> int:
    """The version the caller claims to be changing, from ``If-Match``."""
    header = request.headers.get("If-Match")
    if not header:
        raise PreconditionRequired()
    tag = parse_etag(header)
    if tag is None or tag[0] != instance.pk:
        raise PreconditionFailed()
    return tag[1]


IF_MATCH_PARAMETER = OpenApiParameter(
    name="If-Match",
    location=OpenApiParameter.HEADER,
    required=True,
    type=str,
    description="The `ETag` of the object as last read, e.g. `\"42.3\"`. Missing: 428. Stale: 412.",
)
CONCURRENCY_RESPONSES = {
    412: OpenApiResponse(ErrorSerializer, description="The object changed since the given ETag; re-read it."),
    428: OpenApiResponse(ErrorSerializer, description="The If-Match header is missing."),
}
