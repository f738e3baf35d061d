"""The progress report API: filing, the review workflow, corrections and revision history."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

import django_filters
from django.db.models import Prefetch, prefetch_related_objects
from django.http import FileResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from pilots.api.common import (
    DemoLabelField,
    IdRelatedField,
    PartialUpdateMixin,
    PeriodField,
    PeriodFilter,
    PilotBriefSerializer,
    SubTaskBriefSerializer,
    VisiblePilotField,
)
from pilots.models import Pilot, Prefecture, ProgressReport, ReportAttachment, ReportTransition
from pilots.periods import Deadline, Period
from pilots.report_content import ReportContentSerializer
from pilots.services.evidence import EVIDENCE_TYPES, evidence_attach
from pilots.services.reports import (
    receipt_of,
    report_approve,
    report_correct,
    report_create,
    report_return,
    report_submit,
    report_update,
)
from smartcity.api.concurrency import CONCURRENCY_RESPONSES, IF_MATCH_PARAMETER, expected_version
from smartcity.api.errors import ErrorSerializer
from smartcity.api.filters import NamedObjectFilter
from smartcity.api.idempotency import IDEMPOTENCY_PARAMETER, IDEMPOTENCY_RESPONSES, IdempotentPostMixin
from smartcity.api.serializers import FieldsBuiltOnce
from smartcity.api.viewsets import ScopedViewSetMixin
from smartcity.audit import ChangeContext
from smartcity.auth.access import Role, write_rule
from smartcity.auth.roles import PROVINCE_ROLES
from tasks_app.models import Programme, SubTask, Task


class ReportTransitionSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    # Null for steps taken by a job or command; the creation step has no from_state ("").
    actor = serializers.CharField(source="actor.username", default=None, read_only=True, allow_null=True)
    from_state = serializers.ChoiceField(choices=ProgressReport.State.choices, allow_blank=True, read_only=True)

    class Meta:
        model = ReportTransition
        fields = ["action", "from_state", "to_state", "actor", "at", "comment"]
        read_only_fields = fields


class ReportSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    pilot = PilotBriefSerializer()
    subtask = SubTaskBriefSerializer()
    etag = serializers.CharField(read_only=True, help_text=_("Send back as If-Match to change this report."))
    demo_label = DemoLabelField()
    due_date = serializers.SerializerMethodField(help_text=_(
        "The period's due date: the programme's report_due_days after the quarter ends, moved to a working day."))
    due_date_provisional = serializers.SerializerMethodField(help_text=_(
        "true: the working-day calendar does not know that year's holiday arrangement yet; the due date may move."))

    class Meta:
        model = ProgressReport
        fields = ["id", "pilot", "subtask", "period", "due_date", "due_date_provisional", "revision", "is_current",
                  "state", "percent_complete", "status",
                  "narrative", "kpi_actual", "investment_to_date", "decrease_reason", "correction_reason",
                  "review_comment", "submitted_at", "reviewed_at", "receipt_hash", "is_demo", "demo_label",
                  "created_at", "updated_at", "etag"]
        read_only_fields = fields

    def _deadline(self, report) -> Deadline:
        # From the period and the programme (selected with the pilot): no query per row, one computation per quarter.
        key = (report.period, report.pilot.programme.report_due_days)
        cache = self.context.setdefault("_deadlines", {}) if isinstance(self.context, dict) else {}
        if key not in cache:
            cache[key] = Period.parse(report.period).deadline(key[1])
        return cache[key]

    @extend_schema_field(serializers.DateField())
    def get_due_date(self, report) -> dt.date:
        return self._deadline(report).date

    @extend_schema_field(serializers.BooleanField())
    def get_due_date_provisional(self, report) -> bool:
        return self._deadline(report).provisional



class ReportAttachmentSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    uploaded_by = serializers.CharField(source="uploaded_by.username", default=None, read_only=True, allow_null=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ReportAttachment
        fields = ["id", "original_name", "content_type", "size", "sha256", "uploaded_by", "uploaded_at",
                  "download_url"]
        read_only_fields = fields

    def get_download_url(self, attachment: ReportAttachment) -> str:
        return f"/api/v1/reports/{attachment.report_id}/attachments/{attachment.pk}/"


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=_("PDF, PNG, JPEG or an Office document; at most EVIDENCE_MAX_BYTES."))


class ReportDetailSerializer(ReportSerializer):
    transitions = ReportTransitionSerializer(many=True, read_only=True)
    attachments = ReportAttachmentSerializer(many=True, read_only=True)

    class Meta(ReportSerializer.Meta):
        fields = [*ReportSerializer.Meta.fields, "transitions", "attachments"]
        read_only_fields = fields


class ReportCreateSerializer(ReportContentSerializer):
    pilot = VisiblePilotField(help_text=_("Pilot id."))
    subtask = IdRelatedField(queryset=SubTask.objects.select_related("task"), help_text=_("Sub-task id."))
    period = PeriodField(help_text=_("Quarter, e.g. 2021Q3."))
    submit = serializers.BooleanField(
        required=False, default=False, write_only=True,
        help_text=_("true: submit for review at once (the response carries a receipt); false: keep as a draft."),
    )


class ReportUpdateSerializer(PartialUpdateMixin, ReportContentSerializer):
    """The fields of a PATCH: each optional."""


class ReviewSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class ReturnSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=5000, help_text=_("What the office should fix."))


class CorrectionSerializer(ReportUpdateSerializer):
    correction_reason = serializers.CharField(max_length=5000, help_text=_("Why the approved figures change."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["correction_reason"].required = True


class ReceiptSerializer(serializers.Serializer):
    report_id = serializers.IntegerField()
    revision = serializers.IntegerField()
    submitted_at = serializers.CharField(help_text=_("Server time of the submission (ISO 8601)."))
    sha256 = serializers.CharField(help_text=_("SHA-256 of `content`, hex."))
    content = serializers.CharField(help_text=_("The canonical JSON that was hashed: what was filed, and when."))


class SubmissionSerializer(serializers.Serializer):
    report = ReportDetailSerializer()
    receipt = ReceiptSerializer(allow_null=True, help_text=_("Present once the report is submitted."))


class ReportFilterSet(django_filters.FilterSet):
    pilot = NamedObjectFilter(field_name="pilot", model=Pilot, example="510108")
    prefecture = NamedObjectFilter(field_name="pilot__prefecture", model=Prefecture, example="510100")
    programme = NamedObjectFilter(field_name="pilot__programme", model=Programme, example="sc-2020-3")
    task = NamedObjectFilter(field_name="subtask__task", model=Task, example="T4")
    subtask = NamedObjectFilter(field_name="subtask", model=SubTask, example="T4.1")
    period = django_filters.CharFilter(help_text="Exactly this quarter, e.g. 2021Q3.")
    # From or up to a quarter, compared by the quarter's first day.
    period_from = PeriodFilter(lookup_expr="gte", help_text="From this quarter on, e.g. 2021Q1.")
    period_to = PeriodFilter(lookup_expr="lte", help_text="Up to this quarter, e.g. 2022Q4.")
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


_WRITERS = (Role.REPORTER, Role.ADMIN)
_DETAIL_PREFETCHES = (
    Prefetch("transitions", queryset=ReportTransition.objects.select_related("actor")),  # transitions[].actor
    Prefetch("attachments", queryset=ReportAttachment.objects.select_related("uploaded_by")),  # attachments[]
)
_REVIEWERS = tuple(PROVINCE_ROLES)
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
    retrieve=extend_schema(summary="Show a report", description="Any revision, current or superseded, with its "
                           "transitions. The `ETag` header is the value to send as `If-Match` when changing it.", responses={200: ReportDetailSerializer}),
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
        "pilot__prefecture", "pilot__programme", "subtask__task"  # pilot{}, due_date, subtask{}
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
        "attachments": write_rule(*_WRITERS),  # POST; GET is a read
    }

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            queryset = queryset.prefetch_related(*_DETAIL_PREFETCHES)
        return queryset

    def filter_queryset(self, queryset):
        # A revision's own URL answers whether it is current or superseded: the list's filters (current
        # revisions by default) choose the rows of a list, not which report an id names.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def _context(self) -> ChangeContext:
        return ChangeContext.from_request(self.request)

    def _respond(self, report, status_code=200, *, with_receipt=False, receipt=None, reread=True):
        if reread:
            report = self.get_queryset().get(pk=report.pk)
        else:  # written by this request from loaded instances: only its history is still to be read
            prefetch_related_objects([report], *_DETAIL_PREFETCHES)
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
            receipt = receipt_of(report)
        response = self._respond(report, status.HTTP_201_CREATED, with_receipt=True, receipt=receipt, reread=False)
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
            .prefetch_related(*_DETAIL_PREFETCHES)
            .order_by("revision")
        )
        return Response(ReportDetailSerializer(revisions, many=True).data)

    @extend_schema(methods=["GET"], summary="List a report's evidence", request=None,
                   responses={200: ReportAttachmentSerializer(many=True)})
    @extend_schema(
        methods=["POST"], summary="Attach evidence to a report",
        description="Multipart upload, field `file`. Allowed: PDF, PNG, JPEG, Word, Excel and PowerPoint files, "
        "checked by content as well as by extension; size limit from EVIDENCE_MAX_BYTES (20 MB by default). Only "
        "a draft or returned report takes evidence.",
        request={"multipart/form-data": AttachmentUploadSerializer}, parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: ReportAttachmentSerializer, 409: OpenApiResponse(ErrorSerializer, description="The report "
                   "is submitted or approved."), **IDEMPOTENCY_RESPONSES},
    )
    @action(detail=True, methods=["get", "post"], parser_classes=[MultiPartParser], pagination_class=None,
            filter_backends=[])
    def attachments(self, request, pk=None):
        report = self.get_object()
        if request.method == "GET":
            return Response(ReportAttachmentSerializer(report.attachments.all(), many=True).data)
        params = AttachmentUploadSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        attachment = evidence_attach(report_id=report.pk, upload=params.validated_data["file"],
                                     context=self._context())
        return Response(ReportAttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Download one piece of evidence", responses={  # served as the type checked on upload
        (200, content_type): OpenApiTypes.BINARY for content_type in sorted({t for t, _c in EVIDENCE_TYPES.values()})})
    @action(detail=True, methods=["get"], url_path=r"attachments/(?P<attachment_id>[0-9]+)", filter_backends=[],
            pagination_class=None)
    def attachment(self, request, pk=None, attachment_id=None):
        report = self.get_object()
        attachment = get_object_or_404(report.attachments.all(), pk=attachment_id)
        return FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.original_name,
                            content_type=attachment.content_type)
