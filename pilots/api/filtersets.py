from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError

from pilots.models import Pilot, Prefecture, ProgressReport
from pilots.periods import InvalidPeriod, Period


class PrefectureFilterSet(django_filters.FilterSet):
    code = django_filters.CharFilter()

    class Meta:
        model = Prefecture
        fields = ["code"]


class PilotFilterSet(django_filters.FilterSet):
    programme = django_filters.CharFilter(field_name="programme__code", help_text="Programme code, e.g. sc-2020-3.")
    prefecture = django_filters.CharFilter(field_name="prefecture__code", help_text="Prefecture code, e.g. 510100.")
    batch = django_filters.NumberFilter(field_name="batch_year", help_text="Batch year, e.g. 2020.")
    state = django_filters.MultipleChoiceFilter(choices=Pilot.State.choices, help_text="Life-cycle state; repeatable.")
    demo = django_filters.BooleanFilter(field_name="is_demo", help_text="true: only demo pilots; false: only real ones.")
    code = django_filters.CharFilter(help_text="County code.")

    class Meta:
        model = Pilot
        fields = ["programme", "prefecture", "batch", "state", "demo", "code"]


class PeriodBoundFilter(django_filters.CharFilter):
    """``period_from`` / ``period_to``: a quarter such as 2021Q1, compared by the quarter's start date."""

    def filter(self, qs, value):
        if not value:
            return qs
        try:
            period = Period.parse(value)
        except InvalidPeriod as exc:
            raise ValidationError({self.field_name: str(exc)}) from None
        return qs.filter(**{f"period_start__{self.lookup_expr}": period.start})


class ReportFilterSet(django_filters.FilterSet):
    pilot = django_filters.NumberFilter(field_name="pilot_id", help_text="Pilot id.")
    prefecture = django_filters.CharFilter(field_name="pilot__prefecture__code", help_text="Prefecture code.")
    programme = django_filters.CharFilter(field_name="pilot__programme__code", help_text="Programme code.")
    task = django_filters.CharFilter(field_name="subtask__task__code", help_text="Task code, e.g. T4.")
    subtask = django_filters.CharFilter(field_name="subtask__code", help_text="Sub-task code, e.g. T4.1.")
    period = django_filters.CharFilter(help_text="Exactly this quarter, e.g. 2021Q3.")
    period_from = PeriodBoundFilter(lookup_expr="gte", help_text="From this quarter on, e.g. 2021Q1.")
    period_to = PeriodBoundFilter(lookup_expr="lte", help_text="Up to this quarter, e.g. 2022Q4.")
    state = django_filters.MultipleChoiceFilter(choices=ProgressReport.State.choices, help_text="Review state; repeatable.")
    status = django_filters.MultipleChoiceFilter(choices=ProgressReport.Status.choices, help_text="Status; repeatable.")
    current = django_filters.BooleanFilter(
        field_name="is_current",
        help_text="true (the default): only the current revision of each report; false: only superseded ones.",
    )
    demo = django_filters.BooleanFilter(field_name="is_demo", help_text="true: only demo data; false: only real.")

    class Meta:
        model = ProgressReport
        fields = ["pilot", "prefecture", "programme", "task", "subtask", "period", "period_from", "period_to",
                  "state", "status", "current", "demo"]

    def __init__(self, data=None, *args, **kwargs):
        # Lists show current revisions unless the caller asks otherwise.
        if data is not None and "current" not in data:
            data = data.copy()
            data["current"] = "true"
        super().__init__(data, *args, **kwargs)
