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
from pilots.api.reports import ReceiptSerializer, ReportFilterSet, SubmissionSerializer
from pilots.models import Pilot, ProgressReport, ReportAttachment, ReportTransition
from pilots.report_content import ReportContentSerializer
from pilots.services.bulk import CREATED, OUTCOMES, Filed, Filing, add_field_errors, reports_file, reports_import
from pilots.services.reports import receipt_of
from pilots.services.spreadsheets import (
    MAX_ROWS,
    MAX_UPLOAD_BYTES,
    XLSX_CONTENT_TYPE,
    read_rows,
    reports_to_rows,
    write_csv,
    write_xlsx,
)
from smartcity.api.errors import ErrorSerializer
from smartcity.api.filters import StrictFilterBackend, reject_unknown_params
from smartcity.api.idempotency import IDEMPOTENCY_PARAMETER, IDEMPOTENCY_RESPONSES, IdempotentPostMixin
from smartcity.api.schema import SmartcityAutoSchema
from smartcity.api.viewsets import ScopedViewSetMixin
from smartcity.audit import ChangeContext
from smartcity.auth.access import Role, actor_for, write_rule
from smartcity.exports import CSV_CONTENT_TYPE
from tasks_app.models import SubTask

MAX_BATCH_ITEMS = 100
_WRITERS = write_rule(Role.REPORTER, Role.ADMIN)
_TAGS = ["reports"]


# --- Serializers ------------------------------------------------------------------------------

class BatchItemSerializer(ReportContentSerializer):
    """One sub-task's figures within a batch."""

    subtask = IdRelatedField(queryset=SubTask.objects.select_related("task"), help_text=gettext_lazy("Sub-task id."))
    version = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, default=None, max_length=40,
        help_text=gettext_lazy(
            "The `etag` of the existing draft or returned report this item changes (e.g. `\"42.3\"`, quotes "
            "optional); omit it for a new report. A stale version refuses the batch."),
    )


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
        help_text=gettext_lazy("true: submit every report for review at once, new and existing drafts alike (each "
                               "gets a receipt); false: new reports stay drafts."),
    )
    reports = BatchItemsField(help_text=gettext_lazy(
        "One item per sub-task, at most %(max)s; a sub-task appears once.") % {"max": MAX_BATCH_ITEMS})


_OUTCOME_HELP = gettext_lazy("What this request did to the report: created, updated (its figures changed) or "
                             "unchanged (the item was identical to it).")
_SUBMITTED_NOW_HELP = gettext_lazy("true when this request submitted the report: its receipt is new.")


class _OutcomeCountsSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text=gettext_lazy("New reports filed."))
    updated = serializers.IntegerField(help_text=gettext_lazy("Existing reports whose figures changed."))
    unchanged = serializers.IntegerField(help_text=gettext_lazy("Existing reports identical to their item."))


class BatchResultItemSerializer(SubmissionSerializer):
    outcome = serializers.ChoiceField(choices=OUTCOMES, help_text=_OUTCOME_HELP)
    submitted_now = serializers.BooleanField(help_text=_SUBMITTED_NOW_HELP)


class BatchResultSerializer(_OutcomeCountsSerializer):
    pilot = PilotBriefSerializer()
    period = serializers.CharField()
    count = serializers.IntegerField(help_text=gettext_lazy("Reports filed, changed or confirmed: one per item."))
    results = BatchResultItemSerializer(many=True, help_text=gettext_lazy(
        "Each report, in the order sent, with its receipt (null for a draft or a returned report)."))


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=gettext_lazy(
        "The report sheet, .xlsx or .csv (UTF-8 or GBK), at most %(mb)s MB and %(rows)s rows.") % {
        "mb": MAX_UPLOAD_BYTES // (1024 * 1024), "rows": MAX_ROWS})
    submit = serializers.BooleanField(required=False, default=False, help_text=gettext_lazy(
        "true: submit every imported report for review, new rows and existing drafts alike (each gets a "
        "receipt); false (default): new rows stay drafts."))


class ImportedReportSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="report.pk")
    pilot_code = serializers.CharField(source="report.pilot.code")
    subtask_code = serializers.CharField(source="report.subtask.code")
    period = serializers.CharField(source="report.period")
    state = serializers.ChoiceField(source="report.state", choices=ProgressReport.State.choices)
    etag = serializers.CharField(source="report.etag", help_text=gettext_lazy(
        "The report's version now: what the column 版本标记 of a new export holds."))
    outcome = serializers.ChoiceField(choices=OUTCOMES, help_text=_OUTCOME_HELP)
    submitted_now = serializers.BooleanField(help_text=_SUBMITTED_NOW_HELP)
    receipt = serializers.SerializerMethodField()

    @extend_schema_field(ReceiptSerializer(allow_null=True))
    def get_receipt(self, filed: Filed):
        receipt = receipt_of(filed.report)
        return ReceiptSerializer(receipt).data if receipt else None


class ImportResultSerializer(_OutcomeCountsSerializer):
    count = serializers.IntegerField(help_text=gettext_lazy("Rows filed, changed or confirmed: one per report row."))
    submitted = serializers.BooleanField(help_text=gettext_lazy("The upload's `submit`."))
    reports = ImportedReportSerializer(many=True, help_text=gettext_lazy("In the order of the sheet's rows."))


# --- Shared helpers ---------------------------------------------------------------------------

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
_BATCH_UPDATE_EXAMPLE = OpenApiExample(
    "成华区 2021Q3: an existing draft changed, another submitted as it is",
    value={"pilot": 1, "period": "2021Q3", "submit": True, "reports": [
        {"subtask": 4, "version": "\"41.2\"", "percent_complete": "50.0", "status": "on_track",
         "narrative": "政务服务“一网通办”平台完成二期建设并上线。", "kpi_actual": "88.00", "investment_to_date": "1300.00"},
        {"subtask": 5, "version": "\"42.1\"", "percent_complete": "20.0", "status": "at_risk",
         "narrative": "供应商交付延期,已约谈整改。"},
    ]},
    request_only=True,
)
_BATCH_STALE_EXAMPLE = OpenApiExample(
    "A stale version and an approved report: nothing was filed",
    value={"status": 400, "code": "invalid", "detail": "The request has invalid fields.", "errors": [
        {"field": "reports[0].version", "code": "stale_version",
         "message": "Report 41 has changed since this version was read (\"41.2\"; it is now \"41.3\"). Export it "
                    "again and reapply your change."},
        {"field": "reports[1]", "code": "correction_required",
         "message": "Report 42 is approved: an approved report is not changed by a re-filing but corrected, with a "
                    "reason, through POST /api/v1/reports/42/correct/."},
    ], "request_id": "8f14e45fceea167a5a36dedd4bea2543"},
    response_only=True, status_codes=["400"],
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
            "once, each with its receipt.\n\n"
            "An item with a `version` (the report's `etag`) changes that existing draft or returned report, as "
            "`PATCH /api/v1/reports/{id}/` with `If-Match` would, and with `submit: true` submits it; an item "
            "identical to its report writes nothing (`outcome: unchanged`), so a batch of existing drafts with "
            "`submit: true` submits them. A version that is no longer the report's current one is an error on "
            "`reports[i].version` (`stale_version`); a changed item for a report under review, or for an approved "
            "report — which is corrected through `POST /api/v1/reports/{id}/correct/` — is an error on "
            "`reports[i]`. An item without a version for a report that exists already is an error on "
            "`reports[i].version` naming the report and its version.\n\n"
            "All or nothing: if any item breaks a rule, nothing is filed and the 400 names every offending item's "
            "field as `reports[<index>].<field>` (index from 0), so that all can be fixed at once. Every error met "
            "while filing item *i* — including a rule on the pilot or the quarter — is reported under `reports[i]`. "
            "The same rules apply as to `POST /api/v1/reports/`, every change is audited, and the pilot's "
            "completion is recomputed once per request. 201 when the batch filed a new report, 200 when it only "
            "changed, submitted or confirmed existing ones."
        ),
        request=BatchSerializer,
        responses={201: OpenApiResponse(BatchResultSerializer, description="Every item filed; at least one new."),
                   200: OpenApiResponse(BatchResultSerializer,
                                        description="Every item named an existing report, changed or not."),
                   400: OpenApiResponse(ErrorSerializer, description="Invalid items; nothing was filed.",
                                        examples=[_BATCH_ERROR_EXAMPLE, _BATCH_STALE_EXAMPLE]),
                   **IDEMPOTENCY_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER],
        examples=[_BATCH_EXAMPLE, _BATCH_UPDATE_EXAMPLE],
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
                                      params.validated_data["period"], content, version=content.pop("version")))
        if not envelope_ok:
            for key, messages in item_errors.items():
                errors[key] = [serializers.ErrorDetail(m.message, code=m.code or "invalid") for m in messages]
            raise ValidationError(errors)

        submit = params.validated_data["submit"]
        filed = reports_file(filings=filings, context=ChangeContext.from_request(request), submit=submit,
                             errors=item_errors)
        pilot = params.validated_data["pilot"]
        details = _with_details([item.report for item in filed])
        body = {
            "pilot": pilot,
            "period": str(params.validated_data["period"]),
            "count": len(filed),
            **_counts(filed),
            "results": [{"report": report, "receipt": receipt_of(report), "outcome": item.outcome,
                         "submitted_now": item.submitted_now} for item, report in zip(filed, details)],
        }
        return Response(BatchResultSerializer(body).data, status=_status_of(filed))


def _with_details(reports: list[ProgressReport]) -> list[ProgressReport]:
    """The filed reports again, with what the detail serializer shows, in the order filed."""
    by_id = ProgressReport.objects.select_related("pilot__prefecture", "pilot__programme", "subtask__task").prefetch_related(
        Prefetch("transitions", queryset=ReportTransition.objects.select_related("actor")),
        Prefetch("attachments", queryset=ReportAttachment.objects.select_related("uploaded_by")),
    ).in_bulk([report.pk for report in reports])
    return [by_id[report.pk] for report in reports]


def _counts(filed: list[Filed]) -> dict[str, int]:
    return {outcome: sum(item.outcome == outcome for item in filed) for outcome in OUTCOMES}


def _status_of(filed: list[Filed]) -> int:
    """201 when the request filed a new report, 200 when it only changed or confirmed existing ones."""
    created = any(item.outcome == CREATED for item in filed)
    return status.HTTP_201_CREATED if created else status.HTTP_200_OK


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
    value={"count": 3, "submitted": False, "created": 3, "updated": 0, "unchanged": 0, "reports": [
        {"id": 41, "pilot_code": "510108", "subtask_code": "T4.1", "period": "2021Q3", "state": "draft",
         "etag": "\"41.1\"", "outcome": "created", "submitted_now": False, "receipt": None},
        {"id": 42, "pilot_code": "510108", "subtask_code": "T4.2", "period": "2021Q3", "state": "draft",
         "etag": "\"42.1\"", "outcome": "created", "submitted_now": False, "receipt": None},
        {"id": 43, "pilot_code": "510108", "subtask_code": "T5.1", "period": "2021Q3", "state": "draft",
         "etag": "\"43.1\"", "outcome": "created", "submitted_now": False, "receipt": None},
    ]},
    response_only=True, status_codes=["201"],
)
_IMPORT_ROUND_TRIP_EXAMPLE = OpenApiExample(
    "An export of drafts re-imported with one percent changed",
    value={"count": 2, "submitted": False, "created": 0, "updated": 1, "unchanged": 1, "reports": [
        {"id": 41, "pilot_code": "510108", "subtask_code": "T4.1", "period": "2021Q3", "state": "draft",
         "etag": "\"41.2\"", "outcome": "updated", "submitted_now": False, "receipt": None},
        {"id": 42, "pilot_code": "510108", "subtask_code": "T4.2", "period": "2021Q3", "state": "draft",
         "etag": "\"42.1\"", "outcome": "unchanged", "submitted_now": False, "receipt": None},
    ]},
    response_only=True, status_codes=["200"],
)
_IMPORT_STALE_EXAMPLE = OpenApiExample(
    "Row 3 is stale and row 5 approved: nothing was imported",
    value={"status": 400, "code": "invalid", "detail": "The request has invalid fields.", "errors": [
        {"field": "rows[3].version", "code": "stale_version",
         "message": "Report 42 has changed since this version was read (\"42.1\"; it is now \"42.2\"). Export it "
                    "again and reapply your change."},
        {"field": "rows[5]", "code": "correction_required",
         "message": "Report 44 is approved: an approved report is not changed by a re-filing but corrected, with a "
                    "reason, through POST /api/v1/reports/44/correct/."},
    ], "request_id": "8f14e45fceea167a5a36dedd4bea2543"},
    response_only=True, status_codes=["400"],
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
            "The round trip closes: the export writes each report's version (its ETag) in the column 版本标记 "
            "(`version`; empty in the template). A row with a version changes that existing draft or returned "
            "report (audited, as `PATCH /api/v1/reports/{id}/` would) and, with `submit=true`, submits it; a row "
            "identical to its report writes nothing (`outcome: unchanged`), so an export of drafts re-imports "
            "unchanged. A version that is no longer the report's current one is an error on `rows[<row>].version` "
            "(`stale_version`: export again); a changed row for a report under review, or for an approved report — "
            "which is corrected through `POST /api/v1/reports/{id}/correct/` — is an error on `rows[<row>]`. A row "
            "without a version for a report that exists already is an error on `rows[<row>].version`.\n\n"
            "All or nothing: if any row fails, nothing is imported and the 400 names every offending cell as "
            "`rows[<row>].<column key>`, with the row number Excel shows (the header is row 1). A wrong file "
            "type, an unreadable file or a wrong header row is an error on `file`. The pilots' completion is "
            "recomputed once per pilot and upload. 201 when the upload filed a new report, 200 when it only "
            "changed, submitted or confirmed existing ones."
        ),
        request={"multipart/form-data": ImportUploadSerializer},
        responses={201: OpenApiResponse(ImportResultSerializer, examples=[_IMPORT_RESULT_EXAMPLE],
                                        description="Every row filed, at least one new; receipts when submitted."),
                   200: OpenApiResponse(ImportResultSerializer, examples=[_IMPORT_ROUND_TRIP_EXAMPLE],
                                        description="Every row named an existing report, changed or not."),
                   400: OpenApiResponse(ErrorSerializer, description="Bad rows or a bad file; nothing was imported.",
                                        examples=[_IMPORT_ERROR_EXAMPLE, _IMPORT_STALE_EXAMPLE]),
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
        filed = reports_import(rows=rows, actor=actor_for(request), context=ChangeContext.from_request(request),
                               submit=submit)
        body = {"count": len(filed), "submitted": submit, **_counts(filed), "reports": filed}
        return Response(ImportResultSerializer(body).data, status=_status_of(filed))


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
        reject_unknown_params(request.query_params, ())
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
        reject_unknown_params(request.query_params, ReportFilterSet.base_filters)
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
