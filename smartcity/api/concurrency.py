"""HTTP side of optimistic concurrency: ``ETag`` on reads, ``If-Match`` required on changes."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

# The errors belong to the error format (which maps ``StaleVersion`` to a 412); this module only raises them.
from smartcity.api.errors import ErrorSerializer, PreconditionFailed, PreconditionRequired
from smartcity.concurrency import parse_etag

__all__ = ["CONCURRENCY_RESPONSES", "IF_MATCH_PARAMETER", "PreconditionFailed", "PreconditionRequired",
           "expected_version"]


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
