"""The working-day calendar: its days, read by everyone signed in, kept by the provincial office.

``/api/v1/calendar/days/`` lists, shows, adds, changes and deletes single days; ``/api/v1/calendar/import/``
replaces a whole year's arrangement from the JSON or CSV document the README describes. Rules live in
``smartcity.working_calendar``.
"""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from smartcity.api.concurrency import CONCURRENCY_RESPONSES, IF_MATCH_PARAMETER, expected_version
from smartcity.api.errors import ErrorSerializer
from smartcity.api.filters import WholeNumberFilter
from smartcity.api.idempotency import IDEMPOTENCY_PARAMETER, IDEMPOTENCY_RESPONSES, IdempotentPostMixin
from smartcity.api.parsers import JSONParser
from smartcity.api.viewsets import ScopedViewSetMixin
from smartcity.audit import ChangeContext
from smartcity.auth.access import SIGNED_IN, write_rule
from smartcity.auth.roles import PROVINCE_ROLES
from smartcity.models import CalendarDay
from smartcity.working_calendar import (
    calendar_day_create,
    calendar_day_delete,
    calendar_day_update,
    calendar_year_import,
    parse_arrangement,
    validate_arrangement,
)
from smartcity.workdays import known_years

_KEEPERS = write_rule(*PROVINCE_ROLES)  # roles held only in the provincial office
_TAGS = ["calendar"]
_WHO = "Provincial reviewers and administrators only; everyone signed in reads the calendar."
_MAX_IMPORT_BYTES = 1024 * 1024


class CalendarDaySerializer(serializers.ModelSerializer):
    year_known = serializers.SerializerMethodField(
        help_text=_("Whether the whole arrangement of this day's year has been entered (its deadlines are facts)."))
    etag = serializers.CharField(read_only=True, help_text=_("Send back as If-Match to change this day."))

    class Meta:
        model = CalendarDay
        fields = ["id", "date", "kind", "name", "source", "year_known", "created_at", "updated_at", "etag"]
        read_only_fields = fields

    def get_year_known(self, day: CalendarDay) -> bool:
        return day.date.year in known_years()


class CalendarDayWriteSerializer(serializers.Serializer):
    date = serializers.DateField(help_text=_("The day, e.g. 2027-02-08; one entry per date."))
    kind = serializers.ChoiceField(choices=CalendarDay.Kind.choices,
                                   help_text=_("holiday: a statutory holiday; workday: a weekend day worked (调休)."))
    name = serializers.CharField(max_length=100, help_text=_("The holiday it belongs to, e.g. 春节."))
    source = serializers.CharField(max_length=500, required=False, allow_blank=True, default="",
                                   help_text=_("Where the arrangement was published: the notice's title or URL."))


class CalendarDayUpdateSerializer(CalendarDayWriteSerializer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
            field.default = serializers.empty


class CalendarDayFilterSet(django_filters.FilterSet):
    year = WholeNumberFilter(field_name="date__year", help_text="Only the days of this year, e.g. 2027.")
    kind = django_filters.ChoiceFilter(choices=CalendarDay.Kind.choices, help_text="holiday or workday.")
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte", help_text="On or after, e.g. 2027-01-01.")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte", help_text="On or before, e.g. 2027-12-31.")

    class Meta:
        model = CalendarDay
        fields = ["year", "kind", "date_from", "date_to"]


_DAY_EXAMPLE = OpenApiExample(
    "The first day of the 2027 Spring Festival holiday",
    value={"date": "2027-02-06", "kind": "holiday", "name": "春节",
           "source": "《国务院办公厅关于2027年部分节假日安排的通知》"},
    request_only=True,
)
_DAY_RESPONSE_EXAMPLE = OpenApiExample(
    "A holiday of a year not yet entered",
    value={"id": 774, "date": "2027-02-06", "kind": "holiday", "name": "春节",
           "source": "《国务院办公厅关于2027年部分节假日安排的通知》", "year_known": False,
           "created_at": "2026-12-03T10:00:00+08:00", "updated_at": "2026-12-03T10:00:00+08:00", "etag": "\"774.1\""},
    response_only=True, status_codes=["200", "201"],
)
_ETAG = OpenApiParameter(name="ETag", location=OpenApiParameter.HEADER, type=str, response=[200, 201],
                         description="The day's version, e.g. `\"774.1\"`: send it as `If-Match` to change or delete it.")


@extend_schema_view(
    list=extend_schema(
        summary="List the calendar's days",
        description="The statutory holidays and adjusted working days (调休) the deadlines are computed with; any "
        "other Monday to Friday is a working day. Filter by `year`. `year_known` says whether the year's whole "
        "arrangement has been entered; a year that has not is *provisional* (weekends and the days listed only).",
        tags=_TAGS,
    ),
    retrieve=extend_schema(summary="Show a calendar day", parameters=[_ETAG], tags=_TAGS,
                           examples=[_DAY_RESPONSE_EXAMPLE]),
    create=extend_schema(
        summary="Add a day to the calendar",
        description="Marks one date a statutory holiday or an adjusted working day. The deadlines and reminders it "
        f"moves are recomputed. One entry per date (400 on `date` otherwise). {_WHO}",
        request=CalendarDayWriteSerializer,
        responses={201: CalendarDaySerializer, **IDEMPOTENCY_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER, _ETAG], examples=[_DAY_EXAMPLE, _DAY_RESPONSE_EXAMPLE], tags=_TAGS,
    ),
    partial_update=extend_schema(
        summary="Change a calendar day",
        description=f"Its date, kind, name or source. Needs `If-Match`. {_WHO}",
        request=CalendarDayUpdateSerializer,
        responses={200: CalendarDaySerializer, **CONCURRENCY_RESPONSES},
        parameters=[IF_MATCH_PARAMETER, _ETAG],
        examples=[OpenApiExample("Make it a working day", value={"kind": "workday"}, request_only=True)],
        tags=_TAGS,
    ),
    destroy=extend_schema(
        summary="Delete a calendar day",
        description=f"The date becomes what its weekday says; the deleted day stays in the audit trail. "
        f"Needs `If-Match`. {_WHO}",
        responses={204: None, **CONCURRENCY_RESPONSES}, parameters=[IF_MATCH_PARAMETER], tags=_TAGS,
    ),
)
class CalendarDayViewSet(IdempotentPostMixin, ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                         viewsets.GenericViewSet):
    queryset = CalendarDay.objects.all()
    serializer_class = CalendarDaySerializer
    filterset_class = CalendarDayFilterSet
    search_fields = ["name"]
    ordering_fields = ["date"]
    ordering = ["date"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    access_rules = {"*read": SIGNED_IN, "create": _KEEPERS, "partial_update": _KEEPERS, "destroy": _KEEPERS}

    def _respond(self, day: CalendarDay, status_code=status.HTTP_200_OK) -> Response:
        response = Response(CalendarDaySerializer(day).data, status=status_code, headers={"ETag": day.etag})
        if status_code == status.HTTP_201_CREATED:
            response["Location"] = f"{self.request.path}{day.pk}/"
        return response

    def retrieve(self, request, *args, **kwargs):
        return self._respond(self.get_object())

    def create(self, request, *args, **kwargs):
        params = CalendarDayWriteSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        day = calendar_day_create(**params.validated_data, context=ChangeContext.from_request(request))
        return self._respond(day, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        day = self.get_object()
        params = CalendarDayUpdateSerializer(data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        day = calendar_day_update(day_id=day.pk, expected_version=expected_version(request, day),
                                  changes=dict(params.validated_data), context=ChangeContext.from_request(request))
        return self._respond(day)

    def destroy(self, request, *args, **kwargs):
        day = self.get_object()
        calendar_day_delete(day_id=day.pk, expected_version=expected_version(request, day),
                            context=ChangeContext.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CalendarImportResultSerializer(serializers.Serializer):
    year = serializers.IntegerField(help_text=_("The year imported; it is now known."))
    source = serializers.CharField(help_text=_("Where the arrangement was published."))
    holidays = serializers.IntegerField(help_text=_("Statutory holidays now listed for the year."))
    workdays = serializers.IntegerField(help_text=_("Adjusted working days (调休) now listed for the year."))


_IMPORT_JSON_EXAMPLE = OpenApiExample(
    "A year's arrangement as JSON (shortened)",
    value={"year": 2027, "source": "https://www.gov.cn/zhengce/content/…",
           "days": [{"date": "2027-01-01", "kind": "holiday", "name": "元旦"},
                    {"date": "2027-02-06", "kind": "holiday", "name": "春节"},
                    {"date": "2027-02-20", "kind": "workday", "name": "春节"}]},
    request_only=True,
)


@extend_schema(
    summary="Import a year's arrangement",
    description="Replaces every calendar day of the year with the arrangement sent and marks the year known "
    "(its deadlines stop being provisional); all or nothing. Send the JSON document as the body, or upload "
    "a `.json` or `.csv` file as the multipart field `file`. CSV: the lines `year,2027` and `source,…`, then "
    "the header `date,kind,name` and one row per day. Rows are numbered from 0: an error names e.g. "
    f"`days[3].date`. {_WHO}",
    request={
        "application/json": inline_serializer("CalendarArrangement", fields={
            "year": serializers.IntegerField(help_text="e.g. 2027"),
            "source": serializers.CharField(help_text="The notice's title or URL."),
            "days": inline_serializer("CalendarArrangementDay", many=True, fields={
                "date": serializers.DateField(), "kind": serializers.ChoiceField(choices=CalendarDay.Kind.choices),
                "name": serializers.CharField(),
            }),
        }),
        "multipart/form-data": inline_serializer("CalendarArrangementUpload", fields={
            "file": serializers.FileField(help_text="The arrangement as .json or .csv, UTF-8."),
        }),
    },
    responses={
        201: CalendarImportResultSerializer,
        400: OpenApiResponse(ErrorSerializer, description="A field or row is invalid (e.g. `days[3].date`); "
                             "nothing was written."),
        **IDEMPOTENCY_RESPONSES,
    },
    parameters=[IDEMPOTENCY_PARAMETER],
    examples=[_IMPORT_JSON_EXAMPLE,
              OpenApiExample("Imported", value={"year": 2027, "source": "https://www.gov.cn/zhengce/content/…",
                                                "holidays": 30, "workdays": 5},
                             response_only=True, status_codes=["201"])],
    tags=_TAGS,
)
class CalendarImportView(IdempotentPostMixin, APIView):
    parser_classes = [JSONParser, MultiPartParser]
    access_rules = {"post": _KEEPERS}

    def post(self, request):
        upload = request.FILES.get("file") if hasattr(request, "FILES") else None
        if upload is not None:
            if upload.size > _MAX_IMPORT_BYTES:
                raise ValidationError({"file": [_("The file is larger than 1 MB.")]})
            name = (upload.name or "").lower()
            file_format = "csv" if name.endswith(".csv") else "json" if name.endswith(".json") else None
            if file_format is None:
                raise ValidationError({"file": [_("Upload a .json or .csv file.")]}, code="invalid")
            arrangement = parse_arrangement(upload.read(), file_format=file_format)
        elif request.content_type.startswith("multipart/"):
            raise ValidationError({"file": [_("Upload the arrangement as the field file.")]}, code="required")
        else:
            arrangement = validate_arrangement(request.data)
        calendar_year = calendar_year_import(arrangement=arrangement, context=ChangeContext.from_request(request))
        kinds = [row["kind"] for row in arrangement["days"]]
        return Response({"year": calendar_year.year, "source": calendar_year.source,
                         "holidays": kinds.count(CalendarDay.Kind.HOLIDAY),
                         "workdays": kinds.count(CalendarDay.Kind.WORKDAY)}, status=status.HTTP_201_CREATED)

