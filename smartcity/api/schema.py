"""OpenAPI conventions of this API, applied to every operation so no view can forget them."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse

from smartcity.api.errors import ErrorSerializer
from smartcity.auth.access import rule_for

_ERROR_DESCRIPTIONS = {
    "400": "Invalid input: `errors` names each offending field and the rule it broke.",
    "401": "No credentials, or a token that is unknown, expired or revoked.",
    "403": "Authenticated, but this role or token may not perform this action.",
    "404": "No such object, or it lies outside the caller's scope (another prefecture's data).",
    "404-page": "No such page: the page number is past the last page.",
    "429": "Too many requests for this token or address, or too many failed sign-ins; see Retry-After.",
}


class SmartcityAutoSchema(AutoSchema):
    def _is_public(self) -> bool:
        rule = rule_for(self.view, _FakeRequest(self.method))
        return bool(rule and rule.public)

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is not None and self._is_public():
            operation["security"] = []  # explicit: "no credentials needed", not "inherit the default"
        return operation

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        statuses = []
        has_input = self.method in ("POST", "PUT", "PATCH") or self._is_list_view()
        if has_input or self.get_filter_backends():
            statuses.append("400")
        if not self._is_public():
            statuses += ["401", "403"]
        descriptions = dict(_ERROR_DESCRIPTIONS)
        paginated = self.method == "GET" and self._is_list_view() and self._get_paginator() is not None
        if "{" in self.path or paginated:
            statuses.append("404")
            if paginated:
                pages = _ERROR_DESCRIPTIONS["404-page"]
                descriptions["404"] = f"{descriptions['404']} Or: {pages}" if "{" in self.path else pages
        statuses.append("429")
        for code in statuses:
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=descriptions[code]), code, direction=direction
                )
        return responses


class _FakeRequest:
    """Enough of a request for ``rule_for`` to look up the rule at schema-generation time."""

    def __init__(self, method: str):
        self.method = method


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "smartcity.auth.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token from `POST /api/v1/auth/token/`, sent as `Authorization: Bearer <key>`.",
        }
