from __future__ import annotations

import django_filters

from pilots.models import Pilot, Prefecture


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
