"""The completion API's query parameters: the list views' filtersets and the single views' query serializers."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from pilots.api.common import PeriodFilter
from pilots.models import CompletionRollup, Pilot, Prefecture, ReportingRate, SubtaskCompletion
from pilots.selectors.completion import on_date, only_programme_with_pilots
from smartcity.api.filters import NamedObjectFilter, reject_unknown_params
from tasks_app.models import Department, Programme, Task

Scope = CompletionRollup.Scope

_AS_OF_HELP = gettext_lazy("Figures as of this date (YYYY-MM-DD, Asia/Shanghai); default: the newest date computed.")
_REAL_ONLY_HELP = gettext_lazy("true: leave out demo pilots, demo reports and demo plans. Default false.")


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
            if programme := only_programme_with_pilots():
                queryset = queryset.filter(programme=programme)
        return queryset.filter(
            programme_id__in=Programme.objects.values("pk"), task__isnull=data.get("scope") != Scope.TASK,
            real_only=bool(data.get("real_only")))


# `from` and `to` are the parameter names; `from` cannot be a Python attribute name.
CompletionHistoryFilterSet.base_filters["from"] = CompletionHistoryFilterSet.base_filters.pop("date_from")
CompletionHistoryFilterSet.base_filters["to"] = CompletionHistoryFilterSet.base_filters.pop("date_to")


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
    reject_unknown_params(request.query_params, set(serializer_class().fields) | {"format"})
    params = serializer_class(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data
