from __future__ import annotations

from dataclasses import asdict

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from pilots.api.filtersets import PilotFilterSet, PrefectureFilterSet, ReportFilterSet
from pilots.api.serializers import (
    CorrectionSerializer,
    PilotSerializer,
    PrefectureSerializer,
    ReportCreateSerializer,
    ReportDetailSerializer,
    ReportSerializer,
    ReportUpdateSerializer,
    ReturnSerializer,
    ReviewSerializer,
    SubmissionSerializer,
)
from pilots.models import Pilot, Prefecture, ProgressReport, ReportTransition
from pilots.services.reports import (
    Receipt,
    receipt_content,
    report_approve,
    report_correct,
    report_create,
    report_return,
    report_submit,
    report_update,
)
from smartcity.api.concurrency import CONCURRENCY_RESPONSES, IF_MATCH_PARAMETER, expected_version
from smartcity.api.errors import ErrorSerializer
from smartcity.api.idempotency import IDEMPOTENCY_PARAMETER, IDEMPOTENCY_RESPONSES, IdempotentPostMixin
from smartcity.api.viewsets import ScopedReadOnlyViewSet, ScopedViewSetMixin
from smartcity.audit import ChangeContext
from smartcity.auth.access import Role, write_rule


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


# --- Progress reports -------------------------------------------------------------------------

_WRITERS = (Role.REPORTER, Role.ADMIN)
_REVIEWERS = (Role.REVIEWER, Role.ADMIN)
_REPORT_EXAMPLE = OpenApiExample(
    "A quarter's progress on one sub-task",
    value={"pilot": 1, "subtask": 4, "period": "2021Q3", "percent_complete": "45.0", "status": "on_track",
           "narrative": "政务服务“一网通办”平台完成二期建设。", "kpi_actual": "86.00", "investment_to_date": "1250.00",
           "submit": True},
    request_only=True,
)


@extend_schema_view(
    list=extend_schema(
        summary="List progress reports",
        description="Current revisions by default (`current=false` for superseded ones). A prefecture office sees "
        "its own pilots' reports, a department the sub-tasks it takes part in.",
    ),
    retrieve=extend_schema(summary="Show a report", description="With its transitions. The `ETag` header is the "
                           "value to send as `If-Match` when changing it.", responses={200: ReportDetailSerializer}),
    create=extend_schema(
        summary="File a report",
        description="Creates revision 1 as a draft, or submits it at once with `submit: true` (then `receipt` is "
        "filled in; for a draft it is null). One report per pilot, sub-task and quarter.",
        request=ReportCreateSerializer, responses={201: SubmissionSerializer, **IDEMPOTENCY_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER], examples=[_REPORT_EXAMPLE],
    ),
    partial_update=extend_schema(
        summary="Edit a draft or returned report", request=ReportUpdateSerializer,
        responses={200: ReportDetailSerializer, 409: OpenApiResponse(ErrorSerializer, description="Not editable "
                   "in its state (approved reports are corrected instead)."), **CONCURRENCY_RESPONSES},
        parameters=[IF_MATCH_PARAMETER],
    ),
)
class ReportViewSet(IdempotentPostMixin, ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                    viewsets.GenericViewSet):
    queryset = ProgressReport.objects.select_related(
        "pilot__prefecture", "subtask__task"  # pilot{}, subtask{}
    )
    serializer_class = ReportSerializer
    filterset_class = ReportFilterSet
    ordering_fields = ["period", "updated_at", "submitted_at", "percent_complete"]
    ordering = ["-period", "pilot__code", "subtask__code", "-revision"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    access_rules = {
        "create": write_rule(*_WRITERS),
        "partial_update": write_rule(*_WRITERS),
        "submit": write_rule(*_WRITERS),
        "correct": write_rule(*_WRITERS),
        "approve": write_rule(*_REVIEWERS),
        "return_": write_rule(*_REVIEWERS),
    }

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            # transitions[].actor
            queryset = queryset.prefetch_related(
                Prefetch("transitions", queryset=ReportTransition.objects.select_related("actor"))
            )
        return queryset

    def _context(self) -> ChangeContext:
        return ChangeContext.from_request(self.request)

    def _respond(self, report, status_code=200, *, with_receipt=False, receipt=None):
        report = self.get_queryset().get(pk=report.pk)
        body = ReportDetailSerializer(report, context=self.get_serializer_context()).data
        if with_receipt:
            body = {"report": body, "receipt": asdict(receipt) if receipt else None}
        return Response(body, status=status_code, headers={"ETag": report.etag})

    def retrieve(self, request, *args, **kwargs):
        report = self.get_object()
        return Response(ReportDetailSerializer(report).data, headers={"ETag": report.etag})

    def create(self, request, *args, **kwargs):
        params = ReportCreateSerializer(data=request.data, context=self.get_serializer_context())
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        submit = data.pop("submit")
        report = report_create(
            pilot=data.pop("pilot"), subtask=data.pop("subtask"), period=data.pop("period"), content=data,
            context=self._context(), submit=submit,
        )
        receipt = None
        if submit:
            receipt = Receipt(report.pk, report.revision, report.submitted_at.isoformat(), report.receipt_hash,
                              receipt_content(report, report.submitted_at))
        response = self._respond(report, status.HTTP_201_CREATED, with_receipt=True, receipt=receipt)
        response["Location"] = f"{request.path}{report.pk}/"
        return response

    def partial_update(self, request, *args, **kwargs):
        report = self.get_object()
        params = ReportUpdateSerializer(data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        report = report_update(report_id=report.pk, expected_version=expected_version(request, report),
                               changes=dict(params.validated_data), context=self._context())
        return self._respond(report)

    @extend_schema(
        summary="Submit a report for review",
        description="Draft → submitted, or returned → submitted again. The response carries a receipt: the "
        "SHA-256 of the canonical content and the server time, to keep as proof of what was filed and when.",
        request=None, parameters=[IF_MATCH_PARAMETER, IDEMPOTENCY_PARAMETER],
        responses={200: SubmissionSerializer, 409: OpenApiResponse(ErrorSerializer, description="Not a draft or "
                   "returned report."), **CONCURRENCY_RESPONSES, **IDEMPOTENCY_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        report = self.get_object()
        report, receipt = report_submit(report_id=report.pk, expected_version=expected_version(request, report),
                                        context=self._context())
        return self._respond(report, with_receipt=True, receipt=receipt)

    @extend_schema(
        summary="Approve a submitted report", description="Provincial reviewers only. An approved report is final; "
        "a later change is a correction.", request=ReviewSerializer,
        parameters=[IF_MATCH_PARAMETER, IDEMPOTENCY_PARAMETER],
        responses={200: ReportDetailSerializer, 409: OpenApiResponse(ErrorSerializer, description="Not submitted."),
                   **CONCURRENCY_RESPONSES, **IDEMPOTENCY_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        report = self.get_object()
        params = ReviewSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        report = report_approve(report_id=report.pk, expected_version=expected_version(request, report),
                                context=self._context(), comment=params.validated_data["comment"])
        return self._respond(report)

    @extend_schema(
        summary="Return a submitted report to its office", description="Provincial reviewers only; the comment says "
        "what to fix. The office edits and resubmits.", request=ReturnSerializer,
        parameters=[IF_MATCH_PARAMETER, IDEMPOTENCY_PARAMETER],
        responses={200: ReportDetailSerializer, 409: OpenApiResponse(ErrorSerializer, description="Not submitted."),
                   **CONCURRENCY_RESPONSES, **IDEMPOTENCY_RESPONSES},
    )
    @action(detail=True, methods=["post"], url_path="return")
    def return_(self, request, pk=None):
        report = self.get_object()
        params = ReturnSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        report = report_return(report_id=report.pk, expected_version=expected_version(request, report),
                               context=self._context(), comment=params.validated_data["comment"])
        return self._respond(report)

    @extend_schema(
        summary="Correct an approved report",
        description="Creates the next revision as a draft, with a reason, and makes it the current one. The "
        "approved revision keeps counting until the correction is approved.",
        request=CorrectionSerializer, parameters=[IF_MATCH_PARAMETER, IDEMPOTENCY_PARAMETER],
        responses={201: ReportDetailSerializer, 409: OpenApiResponse(ErrorSerializer, description="Not the current "
                   "approved revision."), **CONCURRENCY_RESPONSES, **IDEMPOTENCY_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def correct(self, request, pk=None):
        report = self.get_object()
        params = CorrectionSerializer(data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        changes = dict(params.validated_data)
        reason = changes.pop("correction_reason", "")
        correction = report_correct(report_id=report.pk, expected_version=expected_version(request, report),
                                    reason=reason, changes=changes, context=self._context())
        response = self._respond(correction, status.HTTP_201_CREATED)
        response["Location"] = f"/api/v1/reports/{correction.pk}/"
        return response

    @extend_schema(summary="Revision history of a report",
                   description="Every revision of this pilot, sub-task and quarter, oldest first, with transitions.",
                   responses={200: ReportDetailSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def revisions(self, request, pk=None):
        report = self.get_object()
        revisions = (
            ProgressReport.objects.filter(pilot_id=report.pilot_id, subtask_id=report.subtask_id, period=report.period)
            .select_related("pilot__prefecture", "subtask__task")
            .prefetch_related(Prefetch("transitions", queryset=ReportTransition.objects.select_related("actor")))
            .order_by("revision")
        )
        return Response(ReportDetailSerializer(revisions, many=True).data)
