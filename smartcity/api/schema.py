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


def nullable_with_type(result, generator, request, public):
    """Postprocessing hook: give every ``nullable`` schema the ``type`` OpenAPI 3.0 requires beside it.

    drf-spectacular writes a nullable reference (``allOf: [$ref]``) or a nullable choice
    (``oneOf: [Enum, NullEnum]``) with ``nullable: true`` and no ``type``; OpenAPI 3.0.3 says
    ``nullable`` means nothing without a ``type``, and standard linters reject it. The type is the one
    the referenced schemas share (``null`` and blank enums aside). A nullable reference becomes
    ``oneOf: [$ref, NullEnum]``: ``allOf`` would still require the referenced object, so ``null``
    would match the ``nullable`` but not the reference.
    """
    components = result.setdefault("components", {}).setdefault("schemas", {})
    null_ref = {"$ref": "#/components/schemas/NullEnum"}

    def resolved_type(member):
        if "$ref" in member:
            member = components.get(member["$ref"].rsplit("/", 1)[-1], {})
        if "type" in member:
            return member["type"]
        if "enum" in member and all(value is None or value == "" for value in member["enum"]):
            return None  # NullEnum / BlankEnum: no type of their own
        if "enum" in member and all(isinstance(value, str) for value in member["enum"]):
            return "string"
        return "?"

    def visit(node):
        if isinstance(node, dict):
            if node.get("nullable") is True and "type" not in node:
                if len(node.get("allOf", ())) == 1 and "$ref" in node["allOf"][0]:
                    components.setdefault("NullEnum", {"enum": [None]})
                    node["oneOf"] = [node.pop("allOf")[0], dict(null_ref)]
                members = node.get("allOf") or node.get("oneOf") or node.get("anyOf") or []
                types = {resolved_type(member) for member in members} - {None}
                if len(types) == 1 and "?" not in types:
                    node["type"] = types.pop()
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(result)
    return result
