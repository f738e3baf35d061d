from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view

from pilots.api.filtersets import PilotFilterSet, PrefectureFilterSet
from pilots.api.serializers import PilotSerializer, PrefectureSerializer
from pilots.models import Pilot, Prefecture
from smartcity.api.viewsets import ScopedReadOnlyViewSet


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
