"""The completion API's views: read what the selectors give, render it with the serializers' plan."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from pilots.api.completion.filtersets import (
    BehindScheduleFilterSet,
    CompletionHistoryFilterSet,
    DepartmentCompletionFilterSet,
    PrefectureCompletionFilterSet,
    ProvinceQuerySerializer,
    ReportingRateFilterSet,
    SnapshotQuerySerializer,
    TaskCompletionFilterSet,
    validated_query,
)
from pilots.api.completion.rendering import Rendering, renderer
from pilots.api.completion.serializers import (
    BehindScheduleSerializer,
    CompletionHistorySerializer,
    DepartmentCompletionSerializer,
    PilotCompletionSerializer,
    PrefectureCompletionSerializer,
    ProvinceCompletionSerializer,
    ReportingRateSerializer,
    TaskCompletionSerializer,
)
from pilots.models import CompletionRollup, Pilot, ReportingRate, SubtaskCompletion
from pilots.selectors.completion import (
    behind_schedule,
    completion_rollups,
    only_programme_with_pilots,
    pilot_completion,
    province_completion,
    reporting_rates,
    subtask_completions,
)
from smartcity.api.errors import ErrorSerializer
from smartcity.api.filters import StrictFilterBackend, resolve_named
from smartcity.auth.access import actor_for
from tasks_app.models import Programme

Scope = CompletionRollup.Scope

_BAD_REQUEST = OpenApiResponse(ErrorSerializer, description="An unknown query parameter or an invalid value.")


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
        # The programme's code and deadline come from ``programme``, not the row.
        row = {**row, "programme__code": programme.code, "programme__goal_deadline": programme.goal_deadline}
        return Response(renderer(ProvinceCompletionSerializer).render(row, Rendering()))


def _programme(code: str | None) -> Programme:
    if code:
        ids = resolve_named(Programme.objects.all(), code)
        if not ids:
            raise ValidationError({"programme": [_("No %(noun)s has the code or id “%(value)s”.") % {
                "noun": Programme._meta.verbose_name, "value": code}]}, code="unknown_object")
        return Programme.objects.get(pk=ids[0])
    programmes = list(Programme.objects.order_by("pk")[:2])
    if len(programmes) > 1:
        programmes = [programme] if (programme := only_programme_with_pilots()) else programmes
    if len(programmes) != 1:
        raise ValidationError({"programme": [_("Name the programme: several are tracked.")]}, code="required")
    return programmes[0]


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
        return Response(renderer(PilotCompletionSerializer).render(figures, Rendering()))


class _RowsListMixin(mixins.ListModelMixin):
    """``list`` that pages ``.values()`` of the filtered queryset, the columns that ``serializer_class``
    renders, and renders each row with the plan built from that serializer (``rendering.renderer``)."""

    def list(self, request, *args, **kwargs):
        plan = renderer(self.serializer_class)
        rows = self.filter_queryset(self.get_queryset()).values(*plan.columns)
        page = self.paginate_queryset(rows)
        data = plan.render_many(rows if page is None else page, Rendering())
        return Response(data) if page is None else self.get_paginated_response(data)


class _RollupListViewSet(_RowsListMixin, viewsets.GenericViewSet):
    scope: str
    filter_backends = [StrictFilterBackend]  # filters only: no search, no ordering
    queryset = CompletionRollup.objects.none()  # for introspection; get_queryset reads through the selector

    def get_queryset(self):
        return completion_rollups(actor=actor_for(self.request), scope=self.scope)


@extend_schema_view(list=extend_schema(
    summary="Completion by prefecture",
    description="The mean completion of each prefecture's pilots. A prefecture office sees its own prefecture only.",
))
class PrefectureCompletionViewSet(_RollupListViewSet):
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
class TaskCompletionViewSet(_RollupListViewSet):
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
class DepartmentCompletionViewSet(_RollupListViewSet):
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

    def get_queryset(self):
        return reporting_rates(actor=actor_for(self.request)).order_by("period", "-scope", "prefecture__code")
