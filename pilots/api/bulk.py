"""Many reports at once: a pilot's quarter in one request, and the report spreadsheet both ways.

    POST /api/v1/reports/batch/          a pilot's quarter as JSON, all or nothing
    POST /api/v1/reports/import/         the filled-in spreadsheet (.xlsx or .csv), all or nothing
    GET  /api/v1/reports/template.xlsx   the empty spreadsheet, with the caller's pilot and sub-task codes
    GET  /api/v1/reports/export.xlsx     the reports the caller sees, with the report list's filters
    GET  /api/v1/reports/export.csv      the same, as CSV

These routes are listed before the report router's, so that ``batch`` is never read as a report id.
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import HttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from pilots.api.common import IdRelatedField, PeriodField, PilotBriefSerializer, VisiblePilotField
from pilots.api.reports import (
    ReceiptSerializer,
    ReportContentSerializer,
    ReportFilterSet,
    SubmissionSerializer,
)
from pilots.models import Pilot, ProgressReport, ReportAttachment, ReportTransition
from pilots.services.bulk import Filing, add_field_errors, receipt_of, reports_file, reports_import
from pilots.services.spreadsheets import (
    CSV_CONTENT_TYPE,
    MAX_ROWS,
    MAX_UPLOAD_BYTES,
    XLSX_CONTENT_TYPE,
    read_rows,
    reports_to_rows,
    write_csv,
    write_xlsx,
)
from smartcity.api.errors import ErrorSerializer
from smartcity.api.filters import StrictFilterBackend
from smartcity.api.idempotency import IDEMPOTENCY_PARAMETER, IDEMPOTENCY_RESPONSES, IdempotentPostMixin
from smartcity.api.schema import SmartcityAutoSchema
from smartcity.api.viewsets import ScopedViewSetMixin
from smartcity.audit import ChangeContext
from smartcity.auth.access import Role, actor_for, write_rule
from tasks_app.models import SubTask

MAX_BATCH_ITEMS = 100
_WRITERS = write_rule(Role.REPORTER, Role.ADMIN)
_TAGS = ["reports"]


# --- Serializers ------------------------------------------------------------------------------

class BatchItemSerializer(ReportContentSerializer):
    """One sub-task's figures within a batch."""

    subtask = IdRelatedField(queryset=SubTask.objects.select_related("task"), help_text=gettext_lazy("Sub-task id."))


@extend_schema_field(BatchItemSerializer(many=True))
class BatchItemsField(serializers.ListField):
    """The items, each validated on its own so that every item's errors are reported at once."""

    def __init__(self, **kwargs):
        super().__init__(allow_empty=False, max_length=MAX_BATCH_ITEMS, **kwargs)


class BatchSerializer(serializers.Serializer):
    pilot = VisiblePilotField(help_text=gettext_lazy("Pilot id."))
    period = PeriodField(help_text=gettext_lazy("Quarter, e.g. 2021Q3."))
    submit = serializers.BooleanField(
        required=False, default=False,
        help_text=gettext_lazy("true: submit every report for review at once (each gets a receipt); false: drafts."),
    )
    reports = BatchItemsField(help_text=gettext_lazy(
        "One item per sub-task, at most %(max)s; a sub-task appears once.") % {"max": MAX_BATCH_ITEMS})


class BatchResultSerializer(serializers.Serializer):
    pilot = PilotBriefSerializer()
    period = serializers.CharField()
    count = serializers.IntegerField(help_text=gettext_lazy("Reports filed."))
    results = SubmissionSerializer(many=True, help_text=gettext_lazy("Each report, in the order sent, with its "
                                                                     "receipt (null for a draft)."))


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=gettext_lazy(
        "The report sheet, .xlsx or .csv (UTF-8 or GBK), at most %(mb)s MB and %(rows)s rows.") % {
        "mb": MAX_UPLOAD_BYTES // (1024 * 1024), "rows": MAX_ROWS})
    submit = serializers.BooleanField(required=False, default=False, help_text=gettext_lazy(
        "true: submit every imported report for review (each gets a receipt); false (default): drafts."))


class ImportedReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    pilot_code = serializers.CharField(source="pilot.code")
    subtask_code = serializers.CharField(source="subtask.code")
    period = serializers.CharField()
    state = serializers.ChoiceField(choices=ProgressReport.State.choices)
    receipt = serializers.SerializerMethodField()

    @extend_schema_field(ReceiptSerializer(allow_null=True))
    def get_receipt(self, report):
        receipt = receipt_of(report)
        return ReceiptSerializer(receipt).data if receipt else None


class ImportResultSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text=gettext_lazy("Reports filed."))
    submitted = serializers.BooleanField()
    reports = ImportedReportSerializer(many=True, help_text=gettext_lazy("In the order of the sheet's rows."))


# --- Shared helpers ---------------------------------------------------------------------------

def _reject_query_params(request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        message = _("Unknown query parameter. Allowed: %(allowed)s.") % {"allowed": ", ".join(sorted(allowed)) or "-"}
        raise ValidationError({name: [message] for name in unknown}, code="unknown_parameter")


class _FileDownloadMixin:
    """A download answers whatever the client accepts; errors are still JSON."""

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


def _attachment(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


class _ExportSchema(SmartcityAutoSchema):
    """Document the report list's filters on the export, though it answers a file rather than a list."""

    def get_filter_backends(self):
        return getattr(self.view, "filter_backends", [])


def _disposition(filename: str) -> OpenApiParameter:
    return OpenApiParameter("Content-Disposition", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200],
                            description=f"`attachment; filename=\"{filename}\"`.")


# --- Batch ------------------------------------------------------------------------------------

_BATCH_EXAMPLE = OpenApiExample(
    "成华区 2021Q3, two sub-tasks, submitted",
    value={"pilot": 1, "period": "2021Q3", "submit": True, "reports": [
        {"subtask": 4, "percent_complete": "45.0", "status": "on_track", "narrative": "政务服务“一网通办”平台完成二期建设。",
         "kpi_actual": "86.00", "investment_to_date": "1250.00"},
        {"subtask": 5, "percent_complete": "20.0", "status": "at_risk", "narrative": "供应商交付延期,已约谈整改。"},
    ]},
    request_only=True,
)
_BATCH_ERROR_EXAMPLE = OpenApiExample(
    "Two bad items: nothing was filed",
    value={"status": 400, "code": "invalid", "detail": "The request has invalid fields.", "errors": [
        {"field": "reports[1].percent_complete", "code": "invalid",
         "message": "Ensure this value is less than or equal to 100."},
        {"field": "reports[3].narrative", "code": "invalid",
         "message": "A narrative is required when the status is at risk or delayed."},
    ], "request_id": "8f14e45fceea167a5a36dedd4bea2543"},
    response_only=True, status_codes=["400"],
)


class ReportBatchView(IdempotentPostMixin, APIView):
    access_rules = {"post": _WRITERS}

    @extend_schema(
        operation_id="reports_batch_create",
        summary="File a pilot's quarter in one request",
        description=(
            "Files one report per sub-task for one pilot and quarter, as drafts or (`submit: true`) submitted at "
            "once, each with its receipt. All or nothing: if any item breaks a rule, nothing is filed and the 400 "
            "names every offending item's field as `reports[<index>].<field>` (index from 0), so that all can be "
            "fixed at once. Every error met while filing item *i* — including a report that exists already, or a "
            "rule on the pilot or the quarter — is reported under `reports[i]`. The same rules apply as to "
            "`POST /api/v1/reports/`."
        ),
        request=BatchSerializer,
        responses={201: BatchResultSerializer,
                   400: OpenApiResponse(ErrorSerializer, description="Invalid items; nothing was filed.",
                                        examples=[_BATCH_ERROR_EXAMPLE]),
                   **IDEMPOTENCY_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER],
        examples=[_BATCH_EXAMPLE],
        tags=_TAGS,
    )
    def post(self, request):
        params = BatchSerializer(data=request.data, context={"request": request})
        envelope_ok = params.is_valid()
        errors = {} if envelope_ok else dict(params.errors)
        items = request.data.get("reports") if isinstance(request.data, dict) else None
        items = items if "reports" not in errors and isinstance(items, list) else []

        item_errors: dict = {}
        filings = []
        for index, raw in enumerate(items):
            item = BatchItemSerializer(data=raw)
            if not item.is_valid():
                add_field_errors(item_errors, f"reports[{index}]", item.errors)
            elif envelope_ok:
                content = dict(item.validated_data)
                filings.append(Filing(f"reports[{index}]", params.validated_data["pilot"], content.pop("subtask"),
                                      params.validated_data["period"], content))
        if not envelope_ok:
            for key, messages in item_errors.items():
                errors[key] = [serializers.ErrorDetail(m.message, code=m.code or "invalid") for m in messages]
            raise ValidationError(errors)

        submit = params.validated_data["submit"]
        reports = reports_file(filings=filings, context=ChangeContext.from_request(request), submit=submit,
                               errors=item_errors)
        pilot = params.validated_data["pilot"]
        body = {
            "pilot": pilot,
            "period": str(params.validated_data["period"]),
            "count": len(reports),
            "results": [{"report": report, "receipt": receipt_of(report)} for report in _with_details(reports)],
        }
        return Response(BatchResultSerializer(body).data, status=status.HTTP_201_CREATED)


def _with_details(reports: list[ProgressReport]) -> list[ProgressReport]:
    """The filed reports again, with what the detail serializer shows, in the order filed."""
    by_id = ProgressReport.objects.select_related("pilot__prefecture", "pilot__programme", "subtask__task").prefetch_related(
        Prefetch("transitions", queryset=ReportTransition.objects.select_related("actor")),
        Prefetch("attachments", queryset=ReportAttachment.objects.select_related("uploaded_by")),
    ).in_bulk([report.pk for report in reports])
    return [by_id[report.pk] for report in reports]


# --- Spreadsheet import -----------------------------------------------------------------------

_IMPORT_ERROR_EXAMPLE = OpenApiExample(
    "Row 4 is out of range: nothing was imported",
    value={"status": 400, "code": "invalid", "detail": "The request has invalid fields.", "errors": [
        {"field": "rows[4].percent_complete", "code": "invalid",
         "message": "Ensure this value is less than or equal to 100."},
        {"field": "rows[7].pilot_code", "code": "invalid",
         "message": "510402 is not the code of one of your pilots; the pilots are listed on the template's help "
                    "sheet."},
    ], "request_id": "8f14e45fceea167a5a36dedd4bea2543"},
    response_only=True, status_codes=["400"],
)
_IMPORT_RESULT_EXAMPLE = OpenApiExample(
    "Three rows imported as drafts",
    value={"count": 3, "submitted": False, "reports": [
        {"id": 41, "pilot_code": "510108", "subtask_code": "T4.1", "period": "2021Q3", "state": "draft",
         "receipt": None},
        {"id": 42, "pilot_code": "510108", "subtask_code": "T4.2", "period": "2021Q3", "state": "draft",
         "receipt": None},
        {"id": 43, "pilot_code": "510108", "subtask_code": "T5.1", "period": "2021Q3", "state": "draft",
         "receipt": None},
    ]},
    response_only=True, status_codes=["201"],
)


class ReportImportView(IdempotentPostMixin, APIView):
    parser_classes = [MultiPartParser]
    access_rules = {"post": _WRITERS}

    @extend_schema(
        operation_id="reports_import_create",
        summary="Import reports from a spreadsheet",
        description=(
            "Multipart upload, field `file`: the report sheet as .xlsx (the first sheet, or the one named 填报) "
            "or .csv (UTF-8 or GBK), in the format of `GET /api/v1/reports/template.xlsx` and of the export. "
            f"At most {MAX_ROWS} rows and {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; blank rows are skipped; the "
            "columns 试点名称, 审核状态, 版本, 回执 and 演示数据 are ignored. Pilot codes are those of the caller's own "
            "pilots; sub-task codes those of the pilot's programme; 状态 takes the Chinese label or the code.\n\n"
            "All or nothing: if any row fails, nothing is imported and the 400 names every offending cell as "
            "`rows[<row>].<column key>`, with the row number Excel shows (the header is row 1). A wrong file "
            "type, an unreadable file or a wrong header row is an error on `file`."
        ),
        request={"multipart/form-data": ImportUploadSerializer},
        responses={201: OpenApiResponse(ImportResultSerializer, examples=[_IMPORT_RESULT_EXAMPLE],
                                        description="Every row filed; receipts when submitted."),
                   400: OpenApiResponse(ErrorSerializer, description="Bad rows or a bad file; nothing was imported.",
                                        examples=[_IMPORT_ERROR_EXAMPLE]),
                   **IDEMPOTENCY_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER],
        tags=_TAGS,
    )
    def post(self, request):
        params = ImportUploadSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        upload = params.validated_data["file"]
        rows = read_rows(upload, upload.name)
        submit = params.validated_data["submit"]
        reports = reports_import(rows=rows, actor=actor_for(request), context=ChangeContext.from_request(request),
                                 submit=submit)
        body = {"count": len(reports), "submitted": submit, "reports": reports}
        return Response(ImportResultSerializer(body).data, status=status.HTTP_201_CREATED)


# --- Template and export ----------------------------------------------------------------------

def _help_lists(actor) -> dict:
    """The codes listed on the help sheet: the actor's pilots, and the sub-tasks of their programmes."""
    pilots = list(Pilot.objects.visible_to(actor).order_by("code"))
    subtasks = SubTask.objects.visible_to(actor).filter(
        task__programme__in={pilot.programme_id for pilot in pilots}).order_by("task__order", "order", "code")
    return {"pilots": [(p.code, p.name_zh, p.is_demo) for p in pilots],
            "subtasks": [(s.code, s.name_zh) for s in subtasks]}


class ReportTemplateView(_FileDownloadMixin, APIView):
    @extend_schema(
        operation_id="reports_template_retrieve",
        summary="Download the empty report spreadsheet",
        description=(
            "The .xlsx to fill in and upload to `POST /api/v1/reports/import/`: the sheet 填报 with its one header "
            "row (each header cell's comment gives the column's machine key), and the sheet 说明 describing every "
            "column and listing the codes of the caller's pilots and of their programmes' sub-tasks."
        ),
        parameters=[_disposition("report-template.xlsx")],
        responses={(200, XLSX_CONTENT_TYPE): OpenApiTypes.BINARY,
                   400: OpenApiResponse(ErrorSerializer, description="An unknown query parameter.")},
        tags=_TAGS,
    )
    def get(self, request):
        _reject_query_params(request, set())
        content = write_xlsx([], **_help_lists(actor_for(request)))
        return _attachment(content, XLSX_CONTENT_TYPE, "report-template.xlsx")


class _ReportExportView(_FileDownloadMixin, ScopedViewSetMixin, GenericAPIView):
    queryset = ProgressReport.objects.select_related("pilot", "subtask")
    filterset_class = ReportFilterSet
    filter_backends = [StrictFilterBackend]
    pagination_class = None
    schema = _ExportSchema()
    extension = ""

    def get(self, request):
        # The report list's filters, exactly: an export has no pages, and its format is its URL.
        _reject_query_params(request, set(ReportFilterSet.base_filters))
        reports = self.filter_queryset(self.get_queryset()).order_by(
            "pilot__code", "subtask__task__order", "subtask__order", "subtask__code", "period_start", "revision")
        rows = reports_to_rows(reports)
        filename = f"reports-{timezone.localdate():%Y-%m-%d}.{self.extension}"
        if self.extension == "csv":
            return _attachment(write_csv(rows), CSV_CONTENT_TYPE, filename)
        return _attachment(write_xlsx(rows, **_help_lists(actor_for(request))), XLSX_CONTENT_TYPE, filename)


_EXPORT_DESCRIPTION = (
    "The reports the caller may see, filtered exactly as `GET /api/v1/reports/` is (current revisions unless "
    "`current=false`), one per row in the format of the import template: an export of drafts re-imports "
    "unchanged. Demo data is labelled in the column 演示数据. Sorted by pilot, sub-task, quarter and revision."
)


class ReportExportXlsxView(_ReportExportView):
    extension = "xlsx"

    @extend_schema(
        operation_id="reports_export_xlsx",
        summary="Export reports as Excel",
        description=_EXPORT_DESCRIPTION + " Named `reports-YYYY-MM-DD.xlsx`.",
        parameters=[_disposition("reports-YYYY-MM-DD.xlsx")],
        responses={(200, XLSX_CONTENT_TYPE): OpenApiTypes.BINARY},
        tags=_TAGS,
    )
    def get(self, request):
        return super().get(request)


class ReportExportCsvView(_ReportExportView):
    extension = "csv"

    @extend_schema(
        operation_id="reports_export_csv",
        summary="Export reports as CSV",
        description=_EXPORT_DESCRIPTION + " UTF-8 with a byte-order mark, so that Excel shows the Chinese; "
        "named `reports-YYYY-MM-DD.csv`.",
        parameters=[_disposition("reports-YYYY-MM-DD.csv")],
        responses={(200, "text/csv"): OpenApiTypes.BINARY},
        tags=_TAGS,
    )
    def get(self, request):
        return super().get(request)


urlpatterns = [
    path("reports/batch/", ReportBatchView.as_view(), name="report-batch"),
    path("reports/import/", ReportImportView.as_view(), name="report-import"),
    path("reports/template.xlsx", ReportTemplateView.as_view(), name="report-template"),
    path("reports/export.xlsx", ReportExportXlsxView.as_view(), name="report-export-xlsx"),
    path("reports/export.csv", ReportExportCsvView.as_view(), name="report-export-csv"),
]
