"""Notifications (one's own inbox), reminders sent (to one's organisation) and what is overdue now."""

from __future__ import annotations

import django_filters
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from pilots.api.common import PilotBriefSerializer, SubTaskBriefSerializer
from pilots.links import item_links, reminder_api_url
from pilots.models import CurrentOverdueItem, Notification, Pilot, Prefecture, Reminder, ReminderKind, ReminderLevel
from pilots.selectors.overdue import overdue_computed_at, overdue_items
from smartcity.api.filters import GENERIC_PARAMS, NamedObjectFilter, unknown_param_errors
from smartcity.api.idempotency import IdempotentPostMixin
from smartcity.api.pagination import StrictPageNumberPagination
from smartcity.api.viewsets import ScopedReadOnlyViewSet, ScopedViewSetMixin
from smartcity.auth.access import SIGNED_IN, actor_for

# --- Notifications --------------------------------------------------------------------------------


class NotificationSerializer(serializers.ModelSerializer):
    # A URL, or empty when the notification names nothing in the API (not a "uri" then).
    api_url = serializers.CharField(read_only=True, help_text="The same thing in the API, for an integrator; "
                                                              "empty when there is none.")

    class Meta:
        model = Notification
        fields = ["id", "title", "body", "link", "api_url", "created_at", "read_at"]
        read_only_fields = fields


class NotificationFilterSet(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(field_name="read_at", lookup_expr="isnull", label="Only unread (true) or read (false).")

    class Meta:
        model = Notification
        fields = ["unread"]


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


class MarkedReadSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many notifications this call marked read.")


@extend_schema_view(
    list=extend_schema(summary="List your notifications",
                       description="Your own in-app notifications, newest first; nobody sees anyone else's."),
    retrieve=extend_schema(summary="Show one of your notifications"),
)
class NotificationViewSet(IdempotentPostMixin, ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                          viewsets.GenericViewSet):
    serializer_class = NotificationSerializer
    queryset = Notification.objects.all()
    filterset_class = NotificationFilterSet
    ordering_fields = ["created_at"]
    access_rules = {"list": SIGNED_IN, "retrieve": SIGNED_IN, "unread_count": SIGNED_IN, "read": SIGNED_IN,
                    "read_all": SIGNED_IN, "*read": SIGNED_IN}

    @extend_schema(summary="Count your unread notifications", responses={200: UnreadCountSerializer},
                   filters=False)
    @action(detail=False, methods=["get"], url_path="unread-count", filter_backends=[], pagination_class=None)
    def unread_count(self, request):
        return Response({"unread": self.get_queryset().filter(read_at__isnull=True).count()})

    @extend_schema(summary="Mark one notification read", request=None, responses={200: NotificationSerializer},
                   description="Idempotent: a notification already read keeps its first read time.")
    @action(detail=True, methods=["post"], filter_backends=[])
    def read(self, request, pk=None):
        notification = self.get_object()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())
        notification.refresh_from_db()
        return Response(self.get_serializer(notification).data)

    @extend_schema(summary="Mark all your notifications read", request=None, responses={200: MarkedReadSerializer},
                   filters=False)
    @action(detail=False, methods=["post"], url_path="read-all", filter_backends=[], pagination_class=None)
    def read_all(self, request):
        marked = self.get_queryset().filter(read_at__isnull=True).update(read_at=timezone.now())
        return Response({"marked": marked}, status=status.HTTP_200_OK)


# --- Reminders sent -------------------------------------------------------------------------------


class ReminderSerializer(serializers.ModelSerializer):
    pilot = PilotBriefSerializer(read_only=True)
    subtask = SubTaskBriefSerializer(read_only=True)
    organisation = serializers.SlugRelatedField(slug_field="code", read_only=True)
    api_url = serializers.SerializerMethodField(help_text="The item in this API, for an integrator "
                                                          "(`link` is its dashboard page, as sent).")

    def get_api_url(self, reminder: Reminder) -> str:
        return reminder_api_url(reminder)

    class Meta:
        model = Reminder
        fields = ["id", "item_key", "kind", "level", "occurrence", "channel", "recipient", "organisation", "pilot",
                  "subtask", "period", "report", "milestone", "due_on", "link", "api_url", "created_at", "sent_at",
                  "attempts", "last_error", "failed_at"]
        read_only_fields = fields


class ReminderFilterSet(django_filters.FilterSet):
    prefecture = NamedObjectFilter(field_name="pilot__prefecture", model=Prefecture, example="510100")
    pilot = NamedObjectFilter(field_name="pilot", model=Pilot, example="510108")
    sent = django_filters.BooleanFilter(field_name="sent_at", lookup_expr="isnull", exclude=True,
                                        label="Sent (true) or not yet (false).")

    class Meta:
        model = Reminder
        fields = ["kind", "level", "channel", "pilot", "period", "occurrence", "prefecture", "sent"]


@extend_schema_view(
    list=extend_schema(summary="List reminders sent",
                       description="Reminders sent to the caller's organisation; province-wide roles see all."),
    retrieve=extend_schema(summary="Show one reminder"),
)
class ReminderViewSet(ScopedReadOnlyViewSet):
    serializer_class = ReminderSerializer
    # pilot, subtask, organisation: the serializer's nested fields
    queryset = Reminder.objects.select_related("pilot__prefecture", "subtask__task", "organisation")
    filterset_class = ReminderFilterSet
    ordering_fields = ["occurrence", "due_on", "sent_at"]


# --- Overdue now ----------------------------------------------------------------------------------


class OverdueEntrySerializer(serializers.ModelSerializer):
    item_key = serializers.CharField()
    pilot = PilotBriefSerializer(read_only=True)
    subtask = SubTaskBriefSerializer(read_only=True)
    report = serializers.IntegerField(source="report_id", allow_null=True)
    milestone = serializers.IntegerField(source="milestone_id", allow_null=True)
    link = serializers.SerializerMethodField(help_text="The dashboard page of the item, for a person.")
    api_url = serializers.SerializerMethodField(help_text="The item in this API, for an integrator.")

    class Meta:
        model = CurrentOverdueItem
        fields = ["kind", "level", "occurrence", "item_key", "pilot", "subtask", "period", "report", "milestone",
                  "due_on", "link", "api_url", "computed_at"]
        read_only_fields = fields

    def _links(self, entry: CurrentOverdueItem) -> tuple[str, str]:
        return item_links(kind=entry.kind, pilot_id=entry.pilot_id, subtask_code=entry.subtask.code,
                          period=entry.period, report_id=entry.report_id, milestone_id=entry.milestone_id)

    def get_link(self, entry: CurrentOverdueItem) -> str:
        return self._links(entry)[0]

    def get_api_url(self, entry: CurrentOverdueItem) -> str:
        return self._links(entry)[1]


class OverduePagination(StrictPageNumberPagination):
    """A page of the stored list, with when the list was computed (``computed_at``)."""

    def paginate_queryset(self, queryset, request, view=None):
        self.computed_at = overdue_computed_at()
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["computed_at"] = (serializers.DateTimeField().to_representation(self.computed_at)
                                        if self.computed_at is not None else None)
        return response

    def get_paginated_response_schema(self, schema):
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["computed_at"] = {
            "type": "string", "format": "date-time", "nullable": True, "example": "2026-12-03T09:00:12.301+08:00",
            "description": "When the reminder sweep last computed the whole list (null: not yet); a pilot whose "
                           "reports or plan changed since has been recomputed after the change (each entry's "
                           "own `computed_at`).",
        }
        paginated["required"] = [*paginated.get("required", []), "computed_at"]
        return paginated


_OVERDUE_PARAMS = {"prefecture", "pilot", "kind", "level"}


class OverdueView(generics.ListAPIView):
    """What is due soon or overdue, as the reminder detection last stored it (nothing is detected on read)."""

    serializer_class = OverdueEntrySerializer
    filter_backends: list = []  # parameters are checked by ``_params``
    pagination_class = OverduePagination
    queryset = CurrentOverdueItem.objects.none()  # for the schema; ``get_queryset`` reads the selector

    @extend_schema(
        summary="List what is overdue now",
        description=(
            "Every item due soon or overdue, at its highest current level (`due_soon`, `overdue`, "
            "`repeat`, `escalation`): unsubmitted quarterly reports, milestones passed below target, returned "
            "reports not resubmitted, submitted reports not reviewed. A prefecture office sees its own pilots, "
            "a department the sub-tasks assigned to it. Most urgent first: escalated, then repeated, overdue "
            "and due soon, each oldest due date first. The list is the one the reminder sweep computed "
            "(`computed_at`), with each pilot recomputed after a change to its reports or plan; `count` is "
            "the whole list's. `link` is the item's dashboard page, `api_url` the item in this API."
        ),
        parameters=[
            OpenApiParameter("prefecture", str, description="Prefecture code, e.g. 510100."),
            OpenApiParameter("pilot", int, description="Pilot id."),
            OpenApiParameter("kind", str, enum=ReminderKind.values),
            OpenApiParameter("level", str, enum=ReminderLevel.values),
        ],
        responses={200: OverdueEntrySerializer(many=True)},
        tags=["reminders"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self._params(self.request)
        return overdue_items(actor=actor_for(self.request), prefecture=params.get("prefecture"),
                             pilot_id=params.get("pilot"), kind=params.get("kind"), level=params.get("level"))

    @staticmethod
    def _params(request) -> dict:
        errors = unknown_param_errors(request.query_params, _OVERDUE_PARAMS | GENERIC_PARAMS)
        params: dict = {}
        for name in ("kind", "level"):
            value = request.query_params.get(name)
            choices = ReminderKind.values if name == "kind" else ReminderLevel.values
            if value is not None:
                if value not in choices:
                    errors[name] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(choices)}]
                params[name] = value
        if "pilot" in request.query_params:
            try:
                params["pilot"] = int(request.query_params["pilot"])
            except ValueError:
                errors["pilot"] = [_("A pilot id is a whole number.")]
        if "prefecture" in request.query_params:
            params["prefecture"] = request.query_params["prefecture"]
            if not Prefecture.objects.filter(code=params["prefecture"]).exists():
                errors["prefecture"] = [_("No prefecture has this code.")]
        if errors:
            raise ValidationError(errors, code="invalid")
        return params


__all__ = ["NotificationViewSet", "OverdueView", "ReminderViewSet"]
