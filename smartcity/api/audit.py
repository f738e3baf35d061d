"""The audit trail, read-only, for the province: who changed what, when, through which door.

Entries are written only by ``smartcity.audit.audit_record``; no interface creates, edits or deletes
them (this viewset is read-only, the admin too, and on PostgreSQL a trigger refuses UPDATE and DELETE).
"""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers

from smartcity.api.viewsets import ScopedReadOnlyViewSet
from smartcity.auth.access import Rule
from smartcity.auth.roles import PROVINCE_ROLES
from smartcity.models import AuditEntry

# Only the provincial office's reviewers and administrators read the trail; everyone else gets 403.
PROVINCE_ONLY = Rule(roles=PROVINCE_ROLES,
                     description="provincial reviewers and administrators")


@extend_schema_field({"type": "object", "additionalProperties": True, "nullable": True})
class SnapshotField(serializers.JSONField):
    """An object's fields as plain JSON values, or null (before a create, after a delete)."""


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_username", read_only=True,
                                  help_text=_("Username of whoever made the change; empty for jobs and commands."))
    object_type = serializers.CharField(read_only=True, help_text=_("app.model, e.g. pilots.progressreport."))
    before = SnapshotField(read_only=True, help_text=_("The object before the change; null for a create."))
    after = SnapshotField(read_only=True, help_text=_("The object after the change; null for a delete."))

    class Meta:
        model = AuditEntry
        fields = ["id", "at", "actor", "via", "token_prefix", "request_id", "action", "object_type", "object_id",
                  "object_repr", "before", "after"]
        read_only_fields = fields


class AuditEntryFilterSet(django_filters.FilterSet):
    request_id = django_filters.CharFilter(help_text="The `X-Request-ID` of the request that made the change.")
    object_type = django_filters.CharFilter(help_text="app.model, e.g. `pilots.progressreport`.")
    object_id = django_filters.CharFilter(help_text="The changed object's id (with `object_type`).")
    actor = django_filters.CharFilter(field_name="actor_username", help_text="Username of whoever made the change.")
    action = django_filters.CharFilter(help_text="e.g. create, update, delete, submit, approve, revoke.")
    via = django_filters.ChoiceFilter(choices=AuditEntry.Via.choices, help_text="Through which door.")
    at_from = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte",
                                               help_text="At or after this time (ISO 8601), e.g. 2021-10-01T00:00:00+08:00.")
    at_to = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lte",
                                             help_text="At or before this time (ISO 8601).")

    class Meta:
        model = AuditEntry
        fields = ["request_id", "object_type", "object_id", "actor", "action", "via", "at_from", "at_to"]


_ENTRY_EXAMPLE = OpenApiExample(
    "A report submitted through an API token",
    value={"id": 812, "at": "2021-10-15T10:00:00+08:00", "actor": "pref-510100", "via": "token",
           "token_prefix": "sct_1a2b3c4d", "request_id": "clerk-retry-000123", "action": "submit",
           "object_type": "pilots.progressreport", "object_id": "57", "object_repr": "成都市成华区 · T4.1 · 2021Q3",
           "before": {"state": "draft", "percent_complete": "45.0"},
           "after": {"state": "submitted", "percent_complete": "45.0"}},
    response_only=True,
)


@extend_schema_view(
    list=extend_schema(
        summary="List audit entries",
        description="Every recorded change, newest first: who (`actor`, `via`, `token_prefix`), when, which "
        "request (`request_id`, the `X-Request-ID` of the response), and the object before and after. Filter "
        "by `request_id` to see everything one request changed, or by `object_type` and `object_id` for one "
        "object's history. Provincial reviewers and administrators only; the trail is read-only.",
        tags=["audit"],
    ),
    retrieve=extend_schema(
        summary="Show an audit entry", description="Provincial reviewers and administrators only.",
        examples=[_ENTRY_EXAMPLE], tags=["audit"],
    ),
)
class AuditEntryViewSet(ScopedReadOnlyViewSet):
    queryset = AuditEntry.objects.all()
    serializer_class = AuditEntrySerializer
    filterset_class = AuditEntryFilterSet
    search_fields = ["object_repr", "actor_username"]
    ordering_fields = ["at", "id"]
    ordering = ["-at", "-id"]
    access_rules = {"list": PROVINCE_ONLY, "retrieve": PROVINCE_ONLY}

