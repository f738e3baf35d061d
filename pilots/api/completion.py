"""The completion API: read-only views of the figures the completion engine stored.

Nothing here aggregates reports: every endpoint reads ``CompletionRollup``, ``SubtaskCompletion``
or ``ReportingRate`` rows through ``pilots.selectors.completion``. Each row carries the date it is
``as_of`` and when it was ``computed_at``. ``as_of`` defaults to the newest date computed;
``real_only=true`` reads the variant without demo pilots, demo reports and demo plans.

The serializers describe the output (they make the OpenAPI schema); the views build the same JSON from
``.values()`` rows (``_Json``): model instances and nested ModelSerializers were most of a request's CPU.
``tests/test_api_completion_output.py`` holds the output to the serializers' fields and recorded bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

import django_filters
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from pilots.api.common import DEMO_LABEL, PilotBriefSerializer, SubTaskBriefSerializer
from pilots.api.registry import PrefectureSerializer
from pilots.models import CompletionRollup, ForecastStatus, Pilot, Prefecture, ReportingRate, SubtaskCompletion
from pilots.periods import InvalidPeriod, Period
from pilots.selectors.completion import (
    FIGURE_COLUMNS,
    RATE_COLUMNS,
    SUBTASK_COLUMNS,
    PilotCompletion,
    behind_schedule,
    brief_columns,
    completion_rollups,
    on_date,
    pilot_completion,
    province_completion,
    reporting_rates,
    subtask_completions,
)
from smartcity.api.errors import ErrorSerializer
from smartcity.api.filters import NamedObjectFilter, StrictFilterBackend, resolve_named
from smartcity.auth.access import actor_for
from tasks_app.api.serializers import DepartmentBriefSerializer, TaskBriefSerializer
from tasks_app.models import Department, Programme, Task

Scope = CompletionRollup.Scope

_AS_OF_HELP = gettext_lazy("Figures as of this date (YYYY-MM-DD, Asia/Shanghai); default: the newest date computed.")
_REAL_ONLY_HELP = gettext_lazy("true: leave out demo pilots, demo reports and demo plans. Default false.")
_BAD_REQUEST = OpenApiResponse(ErrorSerializer, description="An unknown query parameter or an invalid value.")


# --- Serializers ----------------------------------------------------------------------------------

@extend_schema_field(serializers.DictField(child=serializers.CharField(), allow_null=True))
class IncludesDemoLabelField(serializers.Field):
    """The demo label when a figure rests on demo data (a demo pilot or a demo report); null otherwise."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "Present when the figure includes demo data: the label to show beside it.")
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, instance):
        return DEMO_LABEL if instance.includes_demo else None


class CompletionFiguresSerializer(serializers.ModelSerializer):
    """The figures every rollup row has."""

    demo_label = IncludesDemoLabelField()

    class Meta:
        model = CompletionRollup
        fields = ["as_of", "real_only", "computed_at", "completion", "planned", "variance", "schedule_status",
                  "pilot_count", "demo_pilot_count", "no_report_count", "behind_count", "critical_count",
                  "stalled_count", "ahead_of_plan_count", "includes_demo", "demo_label"]
        read_only_fields = fields
        extra_kwargs = {
            "completion": {"help_text": "Percent complete (0–100): a weighted mean over sub-tasks for a pilot, "
                                        "an unweighted mean over pilots for an area. Null when no pilot counts."},
            "planned": {"help_text": "Planned percent on the as-of date, from the milestone plans; null without "
                                     "any plan."},
            "variance": {"help_text": "Actual minus planned, in percentage points, over the sub-tasks with a plan."},
            "no_report_count": {"help_text": "Pilot × sub-task pairs with no approved report (counted as 0)."},
            "behind_count": {"help_text": "Pilot × sub-task pairs behind plan."},
            "critical_count": {"help_text": "Pilot × sub-task pairs critically behind plan."},
            "stalled_count": {"help_text": "Pilot × sub-task pairs whose approved percent has stopped moving."},
            "ahead_of_plan_count": {"help_text": "Pilot × sub-task pairs implausibly far ahead of plan."},
        }


# A share (0–1, four places), rendered as a string like every decimal of this API.
_SHARE = serializers.DecimalField(max_digits=6, decimal_places=4, allow_null=True)


# A count of pilots; null on figures computed before demo pilots were counted apart (until the next recompute).
_COUNT = serializers.IntegerField(min_value=0, allow_null=True)


def _real(count: int | None, demo: int | None) -> int | None:
    """The real pilots among ``count``, of which ``demo`` are demo pilots."""
    return None if count is None or demo is None else count - demo


def _share(part: int | None, whole: int | None) -> str | None:
    if part is None or not whole:
        return None
    return str((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


class ProvinceCompletionSerializer(CompletionFiguresSerializer):
    programme = serializers.SlugRelatedField(slug_field="code", read_only=True)
    goal_deadline = serializers.DateField(source="programme.goal_deadline", read_only=True)
    designated_real = serializers.SerializerMethodField(help_text="Real (not demo) pilots among designated_count.")
    designated_demo = serializers.SerializerMethodField(help_text="Demo pilots among designated_count (0 with "
                                                                  "real_only); never counted towards the goal.")
    accepted_real = serializers.SerializerMethodField(help_text="Real (not demo) pilots among accepted_count.")
    accepted_demo = serializers.SerializerMethodField(help_text="Demo pilots among accepted_count.")
    designated_share = serializers.SerializerMethodField(help_text="Goal attainment: designated_real / goal (demo "
                                                                   "pilots never count towards the goal).")
    accepted_share = serializers.SerializerMethodField(help_text="Goal attainment: accepted_real / goal.")

    class Meta(CompletionFiguresSerializer.Meta):
        fields = ["programme", *CompletionFiguresSerializer.Meta.fields, "projected_complete_count",
                  "designated_count", "accepted_count", "designated_real", "designated_demo", "accepted_real",
                  "accepted_demo", "goal", "goal_deadline", "designated_share", "accepted_share"]
        read_only_fields = fields
        extra_kwargs = {
            **CompletionFiguresSerializer.Meta.extra_kwargs,
            "projected_complete_count": {"help_text": "Pilots projected, on their trend, to be complete by the "
                                                      "goal deadline."},
            "designated_count": {"help_text": "Pilots designated, under construction or accepted on the as-of "
                                              "date (not revoked, not failed); demo pilots included unless "
                                              "real_only (designated_real + designated_demo)."},
            "accepted_count": {"help_text": "Pilots accepted (验收) by the as-of date; demo pilots included unless "
                                            "real_only (accepted_real + accepted_demo)."},
            "goal": {"help_text": "The programme's goal: number of pilots."},
        }

    @extend_schema_field(_COUNT)
    def get_designated_real(self, row: CompletionRollup):
        return _real(row.designated_count, row.designated_demo_count)

    @extend_schema_field(_COUNT)
    def get_designated_demo(self, row: CompletionRollup):
        return row.designated_demo_count

    @extend_schema_field(_COUNT)
    def get_accepted_real(self, row: CompletionRollup):
        return _real(row.accepted_count, row.accepted_demo_count)

    @extend_schema_field(_COUNT)
    def get_accepted_demo(self, row: CompletionRollup):
        return row.accepted_demo_count

    @extend_schema_field(_SHARE)
    def get_designated_share(self, row: CompletionRollup):
        return _share(_real(row.designated_count, row.designated_demo_count), row.goal)

    @extend_schema_field(_SHARE)
    def get_accepted_share(self, row: CompletionRollup):
        return _share(_real(row.accepted_count, row.accepted_demo_count), row.goal)


class PrefectureCompletionSerializer(CompletionFiguresSerializer):
    prefecture = PrefectureSerializer()

    class Meta(CompletionFiguresSerializer.Meta):
        fields = ["prefecture", *CompletionFiguresSerializer.Meta.fields]
        read_only_fields = fields


class TaskCompletionSerializer(CompletionFiguresSerializer):
    task = TaskBriefSerializer()

    class Meta(CompletionFiguresSerializer.Meta):
        fields = ["task", *CompletionFiguresSerializer.Meta.fields]
        read_only_fields = fields


class DepartmentCompletionSerializer(CompletionFiguresSerializer):
    department = DepartmentBriefSerializer()

    class Meta(CompletionFiguresSerializer.Meta):
        fields = ["department", *CompletionFiguresSerializer.Meta.fields]
        read_only_fields = fields


class CompletionHistorySerializer(CompletionFiguresSerializer):
    scope = serializers.ChoiceField(choices=Scope.choices, read_only=True)
    id = serializers.IntegerField(source="scope_id", read_only=True, help_text="The scope object's id.")

    class Meta(CompletionFiguresSerializer.Meta):
        fields = ["scope", "id", *CompletionFiguresSerializer.Meta.fields]
        read_only_fields = fields


class SubtaskCompletionSerializer(serializers.ModelSerializer):
    subtask = SubTaskBriefSerializer()
    demo_label = IncludesDemoLabelField()

    class Meta:
        model = SubtaskCompletion
        fields = ["subtask", "as_of", "real_only", "computed_at", "approved_percent", "approved_period",
                  "pending_percent", "pending_period", "planned_percent", "variance", "schedule_status", "no_report",
                  "stalled", "ahead_of_plan", "includes_demo", "demo_label"]
        read_only_fields = fields
        extra_kwargs = {
            "approved_percent": {"help_text": "Percent of the latest approved report (by period, then revision); "
                                              "0 when there is none."},
            "pending_percent": {"help_text": "The latest figure submitted but not reviewed by the as-of date; "
                                             "never counted."},
            "stalled": {"help_text": "The approved percent, below 100, has not moved for the configured number of "
                                     "consecutive quarters."},
            "ahead_of_plan": {"help_text": "The approved percent is implausibly far above plan: worth a second look."},
        }


class BehindScheduleSerializer(SubtaskCompletionSerializer):
    """A pilot's sub-task behind plan: the pilot, then the sub-task's figures."""

    pilot = PilotBriefSerializer()

    class Meta(SubtaskCompletionSerializer.Meta):
        fields = ["pilot", *SubtaskCompletionSerializer.Meta.fields]
        read_only_fields = fields


class PilotTaskCompletionSerializer(serializers.Serializer):
    task = TaskBriefSerializer(source="rollup.task")
    figures = CompletionFiguresSerializer(source="rollup", help_text="The pilot's completion of this task.")
    subtasks = SubtaskCompletionSerializer(many=True)


class _BlankAsNullChoiceField(serializers.ChoiceField):
    """A stored blank (a row computed before the column existed) is shown as null, not as an unknown choice."""

    def to_representation(self, value):
        return None if value in ("", None) else super().to_representation(value)


class ForecastSerializer(serializers.Serializer):
    projected_completion_date = serializers.DateField(
        allow_null=True, source="rollup.projected_completion_date",
        help_text="When the least-squares trend of the approved history reaches 100% (when it reached 100% if "
                  "complete); null when `status` is anything but `projected` or `complete`.",
    )
    status = _BlankAsNullChoiceField(
        source="rollup.forecast_status", choices=ForecastStatus.choices, allow_null=True,
        help_text="`projected`: the trend reaches 100% on that date. `complete`: 100% reached. `behind_trend`: the "
                  "trend already passed 100% but the figure has not (no date: it is not done today). `not_rising`: a "
                  "flat or falling trend. `beyond_horizon`: more than 10 years away. `insufficient_data`: fewer than "
                  "two quarters with an approved report. Null on figures computed before this field existed.",
    )
    goal_deadline = serializers.DateField()
    complete_by_goal = serializers.SerializerMethodField(help_text="Projected complete by the goal deadline.")

    def get_complete_by_goal(self, value: PilotCompletion) -> bool:
        return _complete_by_goal(value.rollup["projected_completion_date"], value.goal_deadline)


def _complete_by_goal(projected: dt.date | None, goal_deadline: dt.date) -> bool:
    return projected is not None and projected <= goal_deadline


class PilotCompletionSerializer(serializers.Serializer):
    pilot = PilotBriefSerializer()
    state = serializers.ChoiceField(source="rollup.pilot_state", choices=Pilot.State.choices,
                                    help_text="The pilot's state on the as-of date.")
    figures = CompletionFiguresSerializer(source="rollup", help_text="The pilot's overall completion.")
    forecast = ForecastSerializer(source="*")
    tasks = PilotTaskCompletionSerializer(many=True)


class ReportingRateSerializer(serializers.ModelSerializer):
    prefecture = PrefectureSerializer(allow_null=True, help_text="Null on the province-wide row.")
    received_share = serializers.SerializerMethodField(help_text="received / expected.")
    on_time_share = serializers.SerializerMethodField(help_text="on_time / expected: the share received by the "
                                                                "deadline.")

    class Meta:
        model = ReportingRate
        fields = ["period", "deadline", "scope", "prefecture", "as_of", "real_only", "computed_at", "expected",
                  "received", "on_time", "received_share", "on_time_share"]
        read_only_fields = fields
        extra_kwargs = {
            "deadline": {"help_text": "Days after the quarter ends, moved to the next working day."},
            "expected": {"help_text": "Pilots whose construction window overlaps the quarter × sub-tasks."},
            "received": {"help_text": "Of those, reports first submitted by the as-of date."},
            "on_time": {"help_text": "Of those, reports first submitted by the deadline."},
        }

    @extend_schema_field(_SHARE)
    def get_received_share(self, row: ReportingRate):
        return _share(row.received, row.expected)

    @extend_schema_field(_SHARE)
    def get_on_time_share(self, row: ReportingRate):
        return _share(row.on_time, row.expected)


# --- The same JSON from rows ------------------------------------------------------------------------

class _Json:
    """Rows read with ``.values()`` as the serializers above render them, field for field and in their order.

    Scalars go through the serializers' own field classes, so decimals ("45.20"), dates and times come out
    exactly as before. One instance per response: it remembers the few dates and times it has rendered
    (the rows of one run share ``as_of`` and ``computed_at``).
    """

    _percent = serializers.DecimalField(max_digits=6, decimal_places=2)  # like every _percent model field
    _date = serializers.DateField()
    _time = serializers.DateTimeField()

    def __init__(self):
        self._dates: dict = {}
        self._times: dict = {}

    def percent(self, value):
        if value is None:
            return None
        if type(value) is Decimal and value.as_tuple().exponent == -2:
            # Read from a numeric(6, 2) column: already what quantize to two places returns.
            return f"{value:f}"
        return self._percent.to_representation(value)

    def date(self, value):
        return self._rendered(self._dates, self._date, value)

    def time(self, value):
        return self._rendered(self._times, self._time, value)

    @staticmethod
    def _rendered(seen: dict, field: serializers.Field, value):
        if value is None:
            return None
        text = seen.get(value)
        if text is None:
            text = seen[value] = field.to_representation(value)
        return text

    def figures(self, row: dict) -> dict:
        """CompletionFiguresSerializer."""
        return {
            "as_of": self.date(row["as_of"]),
            "real_only": row["real_only"],
            "computed_at": self.time(row["computed_at"]),
            "completion": self.percent(row["completion"]),
            "planned": self.percent(row["planned"]),
            "variance": self.percent(row["variance"]),
            "schedule_status": row["schedule_status"],
            "pilot_count": row["pilot_count"],
            "demo_pilot_count": row["demo_pilot_count"],
            "no_report_count": row["no_report_count"],
            "behind_count": row["behind_count"],
            "critical_count": row["critical_count"],
            "stalled_count": row["stalled_count"],
            "ahead_of_plan_count": row["ahead_of_plan_count"],
            "includes_demo": row["includes_demo"],
            "demo_label": DEMO_LABEL if row["includes_demo"] else None,
        }

    @staticmethod
    def brief(row: dict, relation: str) -> dict | None:
        """PrefectureSerializer, TaskBriefSerializer, DepartmentBriefSerializer: ``brief_columns(relation)``."""
        pk = row[f"{relation}_id"]
        if pk is None:
            return None
        return {"id": pk, "code": row[f"{relation}__code"], "name_zh": row[f"{relation}__name_zh"],
                "name_en": row[f"{relation}__name_en"]}

    def province(self, row: dict, programme: Programme) -> dict:
        """ProvinceCompletionSerializer; the programme's code and deadline come from ``programme``, not the row."""
        return {
            "programme": programme.code,
            **self.figures(row),
            "projected_complete_count": row["projected_complete_count"],
            "designated_count": row["designated_count"],
            "accepted_count": row["accepted_count"],
            "designated_real": (designated_real := _real(row["designated_count"], row["designated_demo_count"])),
            "designated_demo": row["designated_demo_count"],
            "accepted_real": (accepted_real := _real(row["accepted_count"], row["accepted_demo_count"])),
            "accepted_demo": row["accepted_demo_count"],
            "goal": row["goal"],
            "goal_deadline": self.date(programme.goal_deadline),
            "designated_share": _share(designated_real, row["goal"]),
            "accepted_share": _share(accepted_real, row["goal"]),
        }

    def subtask(self, row: dict) -> dict:
        """SubtaskCompletionSerializer."""
        return {
            "subtask": {"id": row["subtask_id"], "code": row["subtask__code"], "name_zh": row["subtask__name_zh"],
                        "name_en": row["subtask__name_en"], "task": row["subtask__task__code"]},
            "as_of": self.date(row["as_of"]),
            "real_only": row["real_only"],
            "computed_at": self.time(row["computed_at"]),
            "approved_percent": self.percent(row["approved_percent"]),
            "approved_period": row["approved_period"],
            "pending_percent": self.percent(row["pending_percent"]),
            "pending_period": row["pending_period"],
            "planned_percent": self.percent(row["planned_percent"]),
            "variance": self.percent(row["variance"]),
            "schedule_status": row["schedule_status"],
            "no_report": row["no_report"],
            "stalled": row["stalled"],
            "ahead_of_plan": row["ahead_of_plan"],
            "includes_demo": row["includes_demo"],
            "demo_label": DEMO_LABEL if row["includes_demo"] else None,
        }

    def pilot(self, value: PilotCompletion) -> dict:
        """PilotCompletionSerializer."""
        pilot, rollup = value.pilot, value.rollup
        projected = rollup["projected_completion_date"]
        return {
            "pilot": {"id": pilot.pk, "code": pilot.code, "name_zh": pilot.name_zh, "name_en": pilot.name_en,
                      "prefecture": pilot.prefecture.code, "is_demo": pilot.is_demo},
            "state": rollup["pilot_state"],
            "figures": self.figures(rollup),
            "forecast": {
                "projected_completion_date": self.date(projected),
                "status": rollup["forecast_status"] or None,
                "goal_deadline": self.date(value.goal_deadline),
                "complete_by_goal": _complete_by_goal(projected, value.goal_deadline),
            },
            "tasks": [
                {"task": self.brief(task.rollup, "task"), "figures": self.figures(task.rollup),
                 "subtasks": [self.subtask(row) for row in task.subtasks]}
                for task in value.tasks
            ],
        }

    def rate(self, row: dict) -> dict:
        """ReportingRateSerializer."""
        return {
            "period": row["period"],
            "deadline": self.date(row["deadline"]),
            "scope": row["scope"],
            "prefecture": self.brief(row, "prefecture"),
            "as_of": self.date(row["as_of"]),
            "real_only": row["real_only"],
            "computed_at": self.time(row["computed_at"]),
            "expected": row["expected"],
            "received": row["received"],
            "on_time": row["on_time"],
            "received_share": _share(row["received"], row["expected"]),
            "on_time_share": _share(row["on_time"], row["expected"]),
        }


# --- Query parameters -------------------------------------------------------------------------------

@extend_schema_field({"type": "boolean", "default": False,
                      "description": "true: leave out demo pilots, demo reports and demo plans."})
class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """``true`` or ``false``; anything else is a 400, not silently false."""

    def __init__(self, **kwargs):
        kwargs.setdefault("choices", [("true", "true"), ("false", "false")])
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(**kwargs)


class SnapshotFilterSet(django_filters.FilterSet):
    """``as_of`` (default: the newest date computed) and ``real_only`` (default false) pick one snapshot."""

    programme = NamedObjectFilter(field_name="programme", model=Programme, example="sc-2020-3")
    as_of = django_filters.DateFilter(method="_in_filter_queryset", help_text=_AS_OF_HELP)
    real_only = StrictBooleanFilter(method="_in_filter_queryset", help_text=_REAL_ONLY_HELP)

    def _in_filter_queryset(self, queryset, name, value):
        return queryset  # applied together in filter_queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        return on_date(queryset, as_of=data.get("as_of"), real_only=bool(data.get("real_only")))


class PrefectureCompletionFilterSet(SnapshotFilterSet):
    prefecture = NamedObjectFilter(field_name="prefecture", model=Prefecture, example="510100")

    class Meta:
        model = CompletionRollup
        fields = ["programme", "prefecture", "as_of", "real_only"]


class TaskCompletionFilterSet(SnapshotFilterSet):
    task = NamedObjectFilter(field_name="task", model=Task, example="T4")

    class Meta:
        model = CompletionRollup
        fields = ["programme", "task", "as_of", "real_only"]


class DepartmentCompletionFilterSet(SnapshotFilterSet):
    department = NamedObjectFilter(field_name="department", model=Department, example="fgw")

    class Meta:
        model = CompletionRollup
        fields = ["programme", "department", "as_of", "real_only"]


class BehindScheduleFilterSet(SnapshotFilterSet):
    programme = NamedObjectFilter(field_name="subtask__task__programme", model=Programme, example="sc-2020-3")
    prefecture = NamedObjectFilter(field_name="pilot__prefecture", model=Prefecture, example="510100")

    class Meta:
        model = SubtaskCompletion
        fields = ["programme", "prefecture", "as_of", "real_only"]


class ScopeObjectFilter(NamedObjectFilter):
    """The history's ``id``: the prefecture, task, department or pilot that ``scope`` says, by its code or id."""

    MODELS = {Scope.PROVINCE: Programme, Scope.PREFECTURE: Prefecture, Scope.TASK: Task,
              Scope.DEPARTMENT: Department, Scope.PILOT: Pilot}

    def __init__(self, **kwargs):
        super().__init__(model=Prefecture, example="510100", field_name="scope_id", help_text=(
            "The prefecture, task, department or pilot of `scope`: its code (e.g. `510100`, `T4`, `fgw`, "
            "`510108`) or its id; not needed for the province."),
            **kwargs)

    def filter(self, qs, value):
        self.named_model = self.MODELS.get(self.parent.form.cleaned_data.get("scope"), Prefecture)
        return super().filter(qs, value)


class CompletionHistoryFilterSet(django_filters.FilterSet):
    programme = NamedObjectFilter(
        field_name="programme", model=Programme, example="sc-2020-3",
        help_text="The programme: its code (e.g. `sc-2020-3`) or its id. Unnamed, the province's history is that of "
        "the one programme with pilots when several programmes are loaded.",
    )
    scope = django_filters.ChoiceFilter(
        choices=[(s.value, s.label) for s in Scope if s != Scope.PILOT_TASK], required=True,
        help_text="Whose history: province, prefecture, task, department or pilot.",
    )
    id = ScopeObjectFilter()
    date_from = django_filters.DateFilter(field_name="as_of", lookup_expr="gte", help_text="From this date on.")
    date_to = django_filters.DateFilter(field_name="as_of", lookup_expr="lte", help_text="Up to this date.")
    real_only = StrictBooleanFilter(method="_real_only", help_text=_REAL_ONLY_HELP)

    class Meta:
        model = CompletionRollup
        fields = ["programme", "scope", "id", "real_only"]

    def _real_only(self, queryset, name, value):
        return queryset  # applied in filter_queryset, so that it defaults to false

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        if data.get("scope") != Scope.PROVINCE and data.get("id") in (None, ""):
            raise ValidationError({"id": [_("Required for this scope.")]}, code="required")
        # Spelled as the natural keys' unique indexes read (programme first, the task's presence as
        # their conditions say), so that one scope's history stays an index range as daily snapshots
        # accumulate, not a scan of every rollup row ever computed.
        queryset = super().filter_queryset(queryset)
        if data.get("scope") == Scope.PROVINCE and not data.get("programme") and Programme.objects.count() > 1:
            # One line per programme: unnamed, the province's history is that of the one programme with pilots.
            if programme := _only_programme_with_pilots():
                queryset = queryset.filter(programme=programme)
        return queryset.filter(
            programme_id__in=Programme.objects.values("pk"), task__isnull=data.get("scope") != Scope.TASK,
            real_only=bool(data.get("real_only")))


# `from` and `to` are the parameter names; `from` cannot be a Python attribute name.
CompletionHistoryFilterSet.base_filters["from"] = CompletionHistoryFilterSet.base_filters.pop("date_from")
CompletionHistoryFilterSet.base_filters["to"] = CompletionHistoryFilterSet.base_filters.pop("date_to")


class PeriodFilter(django_filters.CharFilter):
    def filter(self, qs, value):
        if not value:
            return qs
        try:
            period = Period.parse(value)
        except InvalidPeriod as exc:
            raise ValidationError({self.field_name: [str(exc)]}, code="invalid_period") from None
        return qs.filter(period=str(period))


class ProvinceAndPrefectureFilter(NamedObjectFilter):
    def apply(self, qs, ids):
        return qs.filter(Q(scope=ReportingRate.Scope.PROVINCE) | Q(prefecture__in=ids))


class ReportingRateFilterSet(SnapshotFilterSet):
    period = PeriodFilter(help_text="One quarter, e.g. 2021Q3; default every quarter.")
    prefecture = ProvinceAndPrefectureFilter(
        field_name="prefecture", model=Prefecture, example="510100",
        help_text="The prefecture, by its code (e.g. `510100`) or its id: its rows and the province-wide ones.")

    class Meta:
        model = ReportingRate
        fields = ["programme", "period", "prefecture", "as_of", "real_only"]


class SnapshotQuerySerializer(serializers.Serializer):
    as_of = serializers.DateField(required=False, help_text=_AS_OF_HELP)
    real_only = serializers.BooleanField(required=False, default=False, help_text=_REAL_ONLY_HELP)


class ProvinceQuerySerializer(SnapshotQuerySerializer):
    programme = serializers.CharField(required=False, help_text="The programme: its code (e.g. `sc-2020-3`) or its "
                                      "id; needed only when several programmes have pilots (without it, the one "
                                      "programme with pilots). A name that names nothing is a 400.")


def validated_query(request, serializer_class) -> dict:
    """The query parameters of a non-list view, validated; an unknown one is a 400 like on the lists."""
    allowed = set(serializer_class().fields) | {"format"}
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        message = _("Unknown query parameter. Allowed: %(allowed)s.") % {"allowed": ", ".join(sorted(allowed))}
        raise ValidationError({name: [message] for name in unknown}, code="unknown_parameter")
    params = serializer_class(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data


# --- Views ------------------------------------------------------------------------------------------

class ProvinceCompletionView(APIView):
    """The province-wide figures, which every member may read (a prefecture office too)."""

    @extend_schema(
        operation_id="completion_province_retrieve",
        summary="Province-wide completion",
        description="Mean completion over the province's pilots (revoked ones and those not yet designated left "
        "out), schedule variance, flag counts, how many pilots are projected complete by the goal deadline, and "
        "goal attainment (designated and accepted pilots against the goal).",
        parameters=[ProvinceQuerySerializer],
        responses={200: ProvinceCompletionSerializer, 400: _BAD_REQUEST,
                   404: OpenApiResponse(ErrorSerializer, description="Nothing computed for that date yet.")},
        tags=["completion"],
    )
    def get(self, request):
        params = validated_query(request, ProvinceQuerySerializer)
        programme = _programme(params.get("programme"))
        row = province_completion(actor=actor_for(request), programme=programme, as_of=params.get("as_of"),
                                  real_only=params["real_only"])
        if row is None:
            raise NotFound(_("No completion figures have been computed for that date."))
        return Response(_Json().province(row, programme))


def _programme(code: str | None) -> Programme:
    if code:
        ids = resolve_named(Programme.objects.all(), code)
        if not ids:
            raise ValidationError({"programme": [_("No %(noun)s has the code or id “%(value)s”.") % {
                "noun": Programme._meta.verbose_name, "value": code}]}, code="unknown_object")
        return Programme.objects.get(pk=ids[0])
    programmes = list(Programme.objects.order_by("pk")[:2])
    if len(programmes) > 1:
        programmes = [programme] if (programme := _only_programme_with_pilots()) else programmes
    if len(programmes) != 1:
        raise ValidationError({"programme": [_("Name the programme: several are tracked.")]}, code="required")
    return programmes[0]


def _only_programme_with_pilots() -> Programme | None:
    """The programme meant when none is named and several are loaded: the one with pilots, if one alone has them
    (the 2024 catalog loads beside the 2020 programme, whose pilots all figures are about)."""
    programmes = list(Programme.objects.filter(pilots__isnull=False).distinct().order_by("pk")[:2])
    return programmes[0] if len(programmes) == 1 else None


class PilotCompletionView(APIView):
    """One pilot's completion by task and sub-task; another prefecture's pilot does not exist (404)."""

    @extend_schema(
        operation_id="pilots_completion_retrieve",
        summary="A pilot's completion",
        description="Overall and per task (weighted by sub-task weight), each sub-task's approved and pending "
        "figures, planned percent and variance, the no_report/stalled/ahead_of_plan flags, and the forecast "
        "completion date.",
        parameters=[SnapshotQuerySerializer],
        responses={200: PilotCompletionSerializer, 400: _BAD_REQUEST},
        tags=["pilots"],
    )
    def get(self, request, pk: int):
        params = validated_query(request, SnapshotQuerySerializer)
        actor = actor_for(request)
        pilot = get_object_or_404(Pilot.objects.visible_to(actor).select_related("programme", "prefecture"), pk=pk)
        figures = pilot_completion(actor=actor, pilot=pilot, as_of=params.get("as_of"),
                                   real_only=params["real_only"])
        if figures is None:
            raise NotFound(_("No completion figures have been computed for this pilot on that date."))
        return Response(_Json().pilot(figures))


class _RowsListMixin(mixins.ListModelMixin):
    """``list`` that pages ``.values(*columns)`` of the filtered queryset and renders each row with the
    view's ``represent(json, row)`` (the serializer_class stays, for the schema)."""

    columns: tuple[str, ...]
    represent: Callable[[_Json, dict], dict]  # each view's own method

    def list(self, request, *args, **kwargs):
        rows = self.filter_queryset(self.get_queryset()).values(*self.columns)
        page = self.paginate_queryset(rows)
        json = _Json()
        data = [self.represent(json, row) for row in (rows if page is None else page)]
        return Response(data) if page is None else self.get_paginated_response(data)


class _RollupListViewSet(_RowsListMixin, viewsets.GenericViewSet):
    scope: str
    filter_backends = [StrictFilterBackend]  # filters only: no search, no ordering
    queryset = CompletionRollup.objects.none()  # for introspection; get_queryset reads through the selector

    def get_queryset(self):
        return completion_rollups(actor=actor_for(self.request), scope=self.scope)


class _AreaListViewSet(_RollupListViewSet):
    """One row per prefecture, task or department (``about``): its brief, then the figures."""

    about: str

    @property
    def columns(self) -> tuple[str, ...]:
        return (*brief_columns(self.about), *FIGURE_COLUMNS)

    def represent(self, json: _Json, row: dict) -> dict:
        return {self.about: json.brief(row, self.about), **json.figures(row)}


@extend_schema_view(list=extend_schema(
    summary="Completion by prefecture",
    description="The mean completion of each prefecture's pilots. A prefecture office sees its own prefecture only.",
))
class PrefectureCompletionViewSet(_AreaListViewSet):
    about = "prefecture"
    scope = Scope.PREFECTURE
    serializer_class = PrefectureCompletionSerializer
    filterset_class = PrefectureCompletionFilterSet

    def get_queryset(self):
        return super().get_queryset().order_by("prefecture__code")


@extend_schema_view(list=extend_schema(
    summary="Completion by task",
    description="Each task's completion across pilots: per pilot the mean of the task's sub-tasks weighted by "
    "sub-task weight, then the mean over pilots.",
))
class TaskCompletionViewSet(_AreaListViewSet):
    about = "task"
    scope = Scope.TASK
    serializer_class = TaskCompletionSerializer
    filterset_class = TaskCompletionFilterSet

    def get_queryset(self):
        return super().get_queryset().order_by("task__order", "task__code")


@extend_schema_view(list=extend_schema(
    summary="Completion by responsible department",
    description="For each department, completion of the sub-tasks it leads: per pilot the weighted mean over "
    "those sub-tasks, then the mean over pilots.",
))
class DepartmentCompletionViewSet(_AreaListViewSet):
    about = "department"
    scope = Scope.DEPARTMENT
    serializer_class = DepartmentCompletionSerializer
    filterset_class = DepartmentCompletionFilterSet

    def get_queryset(self):
        return super().get_queryset().order_by("department__code")


@extend_schema_view(list=extend_schema(
    summary="Completion history",
    description="One scope's figures on each computed date, oldest first: `scope` (province, prefecture, task, "
    "department, pilot) and its `id`, between `from` and `to`. Figures outside the caller's scope are absent.",
))
class CompletionHistoryViewSet(_RollupListViewSet):
    scope = None
    serializer_class = CompletionHistorySerializer
    filterset_class = CompletionHistoryFilterSet
    columns = ("scope", "scope_id", *FIGURE_COLUMNS)

    def represent(self, json: _Json, row: dict) -> dict:
        return {"scope": row["scope"], "id": row["scope_id"], **json.figures(row)}

    def get_queryset(self):
        return super().get_queryset().order_by("as_of")


@extend_schema_view(list=extend_schema(
    summary="Sub-tasks behind schedule",
    description="Every pilot's sub-task whose variance is below the behind threshold, most urgent first: "
    "critical before behind, then the largest shortfall, then pilot and sub-task code. Paged like every list: "
    "`count` is how many there are in all, whichever page is shown. A prefecture office sees its own pilots, "
    "a department the sub-tasks it takes part in.",
))
class BehindScheduleViewSet(_RowsListMixin, viewsets.GenericViewSet):
    queryset = SubtaskCompletion.objects.none()  # for introspection
    filter_backends = [StrictFilterBackend]
    serializer_class = BehindScheduleSerializer
    filterset_class = BehindScheduleFilterSet
    columns = ("pilot_id", "pilot__code", "pilot__name_zh", "pilot__name_en", "pilot__prefecture__code",
               "pilot__is_demo", *SUBTASK_COLUMNS)

    def represent(self, json: _Json, row: dict) -> dict:
        return {"pilot": {"id": row["pilot_id"], "code": row["pilot__code"], "name_zh": row["pilot__name_zh"],
                          "name_en": row["pilot__name_en"], "prefecture": row["pilot__prefecture__code"],
                          "is_demo": row["pilot__is_demo"]},
                **json.subtask(row)}

    def get_queryset(self):
        return subtask_completions(actor=actor_for(self.request))

    def filter_queryset(self, queryset):
        return behind_schedule(super().filter_queryset(queryset))


@extend_schema_view(list=extend_schema(
    summary="Reporting rate and timeliness",
    description="Per quarter, per prefecture and province-wide: reports expected (pilots whose construction "
    "window overlaps the quarter × sub-tasks), received by the as-of date, and received by the deadline. "
    "A prefecture office sees its own rows and the province-wide ones.",
))
class ReportingRateViewSet(_RowsListMixin, viewsets.GenericViewSet):
    queryset = ReportingRate.objects.none()  # for introspection
    filter_backends = [StrictFilterBackend]
    serializer_class = ReportingRateSerializer
    filterset_class = ReportingRateFilterSet
    columns = (*RATE_COLUMNS, *brief_columns("prefecture"))

    def represent(self, json: _Json, row: dict) -> dict:
        return json.rate(row)

    def get_queryset(self):
        return reporting_rates(actor=actor_for(self.request)).order_by("period", "-scope", "prefecture__code")

