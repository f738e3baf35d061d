"""The registry API: prefectures and pilots (read-only; the registry is managed in the admin)."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers

from pilots.api.common import DemoLabelField
from pilots.models import Pilot, Prefecture
from smartcity.api.filters import NamedObjectFilter, WholeNumberFilter
from tasks_app.models import Programme
from smartcity.api.viewsets import ScopedReadOnlyViewSet


class PrefectureSerializer(serializers.ModelSerializer):
    class Meta:
        model = Prefecture
        fields = ["id", "code", "name_zh", "name_en"]
        read_only_fields = fields


class PilotSerializer(serializers.ModelSerializer):
    programme = serializers.SlugRelatedField(slug_field="code", read_only=True)
    prefecture = PrefectureSerializer()
    state_label = serializers.CharField(source="get_state_display", read_only=True,
                                        help_text=_("The state in the request's language."))
    demo_label = DemoLabelField()

    class Meta:
        model = Pilot
        fields = ["id", "code", "name_zh", "name_en", "programme", "prefecture", "batch_year", "state", "state_label",
                  "designated_on", "construction_start", "construction_end", "is_demo", "demo_label", "source_note"]
        read_only_fields = fields



class PrefectureFilterSet(django_filters.FilterSet):
    code = django_filters.CharFilter()

    class Meta:
        model = Prefecture
        fields = ["code"]


class PilotFilterSet(django_filters.FilterSet):
    programme = NamedObjectFilter(field_name="programme", model=Programme, example="sc-2020-3")
    prefecture = NamedObjectFilter(field_name="prefecture", model=Prefecture, example="510100")
    batch = WholeNumberFilter(field_name="batch_year", help_text="Batch year, e.g. 2020.")
    state = django_filters.MultipleChoiceFilter(choices=Pilot.State.choices, help_text="Life-cycle state; repeatable.")
    demo = django_filters.BooleanFilter(field_name="is_demo", help_text="true: only demo pilots; false: only real ones.")
    code = django_filters.CharFilter(help_text="County code.")

    class Meta:
        model = Pilot
        fields = ["programme", "prefecture", "batch", "state", "demo", "code"]


@extend_schema_view(
    list=extend_schema(summary="List prefectures", description="The 21 prefectures (市、州) with GB/T 2260 codes."),
    retrieve=extend_schema(summary="Show a prefecture"),
)
class PrefectureViewSet(ScopedReadOnlyViewSet):
    queryset = Prefecture.objects.all()
    serializer_class = PrefectureSerializer
    filterset_class = PrefectureFilterSet
    search_fields = ["code", "name_zh", "name_en"]
    ordering_fields = ["code"]


@extend_schema_view(
    list=extend_schema(
        summary="List pilots",
        description="Pilots visible to the caller: a prefecture office sees only its own. Demo pilots carry "
        "`is_demo: true` and a `demo_label` that must be shown wherever they are.",
    ),
    retrieve=extend_schema(summary="Show a pilot"),
)
class PilotViewSet(ScopedReadOnlyViewSet):
    queryset = Pilot.objects.select_related("programme", "prefecture")  # programme, prefecture
    serializer_class = PilotSerializer
    filterset_class = PilotFilterSet
    search_fields = ["code", "name_zh", "name_en"]
    ordering_fields = ["code", "name_zh", "batch_year", "designated_on", "state"]
    ordering = ["prefecture__code", "code"]
