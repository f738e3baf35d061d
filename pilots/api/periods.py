"""Reporting periods and their deadlines, so that no integrator has to recompute one.

``GET /api/v1/periods/`` lists each quarter of each programme, from the programme's start to the
current quarter (no later than the programme's end), with its due date: ``report_due_days`` after the
quarter ends, moved forward to a working day of the calendar the provincial office keeps. A due date
is *provisional* when the calendar does not know the year's holiday arrangement yet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Max, Min
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError

from pilots.models import Pilot
from pilots.periods import Period, periods_between
from smartcity.api.filters import GENERIC_PARAMS, reject_unknown_params
from smartcity.auth.access import actor_for
from tasks_app.models import Programme


@dataclass(frozen=True)
class PeriodRow:
    programme: str
    period: str
    start: dt.date
    end: dt.date
    due_date: dt.date
    due_date_provisional: bool


class PeriodSerializer(serializers.Serializer):
    programme = serializers.CharField(help_text="Programme code.")
    period = serializers.CharField(help_text="The quarter, e.g. 2021Q3.")
    start = serializers.DateField(help_text="First day of the quarter.")
    end = serializers.DateField(help_text="Last day of the quarter.")
    due_date = serializers.DateField(help_text="Reports are due by the end of this day (Asia/Shanghai): "
                                     "`report_due_days` after the quarter ends, moved to a working day.")
    due_date_provisional = serializers.BooleanField(
        help_text="true: the working-day calendar does not know that year's holiday arrangement yet, so the due "
        "date counts weekends only and may move once the arrangement is entered.")


def programme_periods(programmes, *, today: dt.date, year: int | None = None) -> list[PeriodRow]:
    """Every period of each programme with its deadline: two queries whatever the number of periods."""
    spans = {row["programme_id"]: row for row in
             Pilot.objects.filter(programme__in=programmes).order_by()
             .values("programme_id").annotate(first=Min("construction_start"), last=Max("construction_end"))}
    rows = []
    for programme in programmes:
        span = spans.get(programme.pk, {})
        start = programme.issued_on or span.get("first")
        if start is None:
            continue
        end = max(day for day in (programme.goal_deadline, span.get("last")) if day is not None)
        end = min(end, Period.containing(today).end)
        for period in periods_between(start, end):
            if year is not None and period.year != year:
                continue
            deadline = period.deadline(programme.report_due_days)
            rows.append(PeriodRow(programme.code, str(period), period.start, period.end, deadline.date,
                                  deadline.provisional))
    return rows


_PARAMETERS = [
    OpenApiParameter("programme", OpenApiTypes.STR, description="Programme code (e.g. `scdc-2020`) or id."),
    OpenApiParameter("year", OpenApiTypes.INT, description="Only the quarters of this year, e.g. 2027."),
]


@extend_schema(
    summary="List reporting periods and their due dates",
    description="Each quarter of each programme (or of `programme`), from the programme's start to the current "
    "quarter, no later than the programme's end, oldest first: its dates and its due date, with "
    "`due_date_provisional` true while the working-day calendar does not know that year's holiday arrangement. "
    "Deadlines move when the provincial office changes the calendar (`/api/v1/calendar/days/`).",
    parameters=_PARAMETERS,
    examples=[OpenApiExample(
        "The first quarter of 2027", response_only=True, status_codes=["200"],
        value={"count": 1, "next": None, "previous": None, "results": [
            {"programme": "scdc-2020", "period": "2027Q1", "start": "2027-01-01", "end": "2027-03-31",
             "due_date": "2027-04-12", "due_date_provisional": True}]},
    )],
    tags=["periods"],
)
class PeriodViewSet(viewsets.GenericViewSet):
    serializer_class = PeriodSerializer
    filter_backends: list = []
    queryset = Programme.objects.none()  # for the schema; list() reads the programmes itself

    def list(self, request, *args, **kwargs):
        params = request.query_params
        reject_unknown_params(params, GENERIC_PARAMS | {"programme", "year"})
        programmes = Programme.objects.visible_to(actor_for(request)).order_by("code")
        if "programme" in params:
            value = params["programme"].strip()
            if value.isascii() and value.isdigit():
                programmes = programmes.filter(pk=int(value))
            else:
                programmes = programmes.filter(code=value)
            if not programmes:
                raise ValidationError({"programme": [_("No programme has this code or id.")]}, code="does_not_exist")
        year = None
        if "year" in params:
            raw = params["year"].strip()
            if not (raw.isascii() and raw.isdigit() and 2000 <= int(raw) <= 2100):
                raise ValidationError({"year": [_("The year is a whole number between 2000 and 2100.")]},
                                      code="invalid")
            year = int(raw)
        rows = programme_periods(list(programmes), today=timezone.localdate(), year=year)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(PeriodSerializer(page, many=True).data)
