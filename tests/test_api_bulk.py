"""A prefecture clerk files a whole quarter at once: as one JSON batch, or as a filled-in spreadsheet."""

import datetime as dt
import hashlib
import io
import json
import uuid

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from pilots.models import ProgressReport, ReportTransition
from pilots.services.spreadsheets import COLUMNS
from smartcity.models import AuditEntry
from tests.factories import OrganisationFactory, PilotFactory, PrefectureFactory, SubTaskFactory, TaskFactory, member
from tests.helpers import client_for, error_fields

pytestmark = pytest.mark.django_db

BATCH = "/api/v1/reports/batch/"
IMPORT = "/api/v1/reports/import/"
TEMPLATE = "/api/v1/reports/template.xlsx"
EXPORT_XLSX = "/api/v1/reports/export.xlsx"
EXPORT_CSV = "/api/v1/reports/export.csv"
TODAY = dt.datetime(2021, 10, 15, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
HEADERS = [column.header for column in COLUMNS]
CONTENT = ["pilot_id", "subtask_id", "period", "percent_complete", "status", "narrative", "kpi_actual",
           "investment_to_date", "decrease_reason", "is_demo"]


@pytest.fixture(autouse=True)
def mid_october_2021():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def world():
    services = TaskFactory(code="T4")
    governance = TaskFactory(code="T5", programme=services.programme)
    chengdu = PrefectureFactory(code="510100", name_zh="成都市")
    luzhou = PrefectureFactory(code="510500", name_zh="泸州市")
    chengdu_office = OrganisationFactory(kind="prefecture", prefecture=chengdu)
    province = OrganisationFactory(code="province")
    return {
        "T4.1": SubTaskFactory(task=services, code="T4.1", name_zh="优化“互联网+政务服务”"),
        "T4.2": SubTaskFactory(task=services, code="T4.2", name_zh="升级智慧民生综合应用"),
        "T5.1": SubTaskFactory(task=governance, code="T5.1", name_zh="加强跨区域城市综合管理"),
        "chenghua": PilotFactory(programme=services.programme, prefecture=chengdu, code="510108",
                                 name_zh="成都市成华区"),
        "jiangyang": PilotFactory(programme=services.programme, prefecture=luzhou, code="510502",
                                  name_zh="泸州市江阳区"),
        "chengdu_office": client_for(member("reporter", chengdu_office), can_write=True),
        "luzhou_office": client_for(member("reporter", OrganisationFactory(kind="prefecture", prefecture=luzhou)),
                                    can_write=True),
        "viewer": client_for(member("viewer", province)),
        "admin": client_for(member("admin", province), can_write=True),
    }


def item(world, subtask, **overrides):
    return {"subtask": world[subtask].pk, "percent_complete": "45.0", "status": "on_track",
            "narrative": "二期平台上线。", "kpi_actual": "86.00", "investment_to_date": "1250.00"} | overrides


def quarter(world, *items, submit=True, **overrides):
    items = items or (item(world, "T4.1"), item(world, "T4.2", percent_complete="30.0"), item(world, "T5.1"))
    return {"pilot": world["chenghua"].pk, "period": "2021Q3", "submit": submit, "reports": list(items)} | overrides


def row(pilot="510108", subtask="T4.1", period="2021Q3", percent=45, status="按计划推进", narrative="二期平台上线。",
        kpi=86, investment=1250, decrease=None):
    return [pilot, None, subtask, period, percent, status, narrative, kpi, investment, decrease]


def xlsx_upload(rows, *, header=HEADERS, name="成华区2021Q3.xlsx"):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for values in rows:
        sheet.append(values)
    output = io.BytesIO()
    workbook.save(output)
    return SimpleUploadedFile(name, output.getvalue())


def upload(client, file, *, submit=False, **headers):
    return client.post(IMPORT, {"file": file, "submit": "true" if submit else "false"}, format="multipart",
                       **headers)


def content_of(reports):
    return sorted(tuple(str(getattr(report, field)) for field in CONTENT) for report in reports)


# --- One request for a pilot's quarter -------------------------------------------------------

def test_a_clerk_submits_a_pilots_quarter_in_one_request_and_gets_a_receipt_per_report(world):
    response = world["chengdu_office"].post(BATCH, quarter(world), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["count"] == 3 and body["period"] == "2021Q3" and body["pilot"]["code"] == "510108"
    assert [r["report"]["subtask"]["code"] for r in body["results"]] == ["T4.1", "T4.2", "T5.1"]
    for result in body["results"]:
        receipt = result["receipt"]
        assert result["report"]["state"] == "submitted"
        assert hashlib.sha256(receipt["content"].encode()).hexdigest() == receipt["sha256"]
        assert json.loads(receipt["content"])["subtask"] == result["report"]["subtask"]["code"]
        assert ProgressReport.objects.get(pk=result["report"]["id"]).receipt_hash == receipt["sha256"]
        assert [t["action"] for t in result["report"]["transitions"]] == ["create", "submit"]


def test_a_batch_of_drafts_has_no_receipts(world):
    body = world["chengdu_office"].post(BATCH, quarter(world, submit=False), format="json").json()

    assert {(r["report"]["state"], r["receipt"]) for r in body["results"]} == {("draft", None)}


def test_a_batch_with_two_bad_items_is_refused_naming_both_and_writes_nothing(world):
    batch = quarter(world, item(world, "T4.1"), item(world, "T4.2", percent_complete="120"),
                    item(world, "T5.1", status="delayed", narrative=""))

    response = world["chengdu_office"].post(BATCH, batch, format="json")

    assert response.status_code == 400
    assert error_fields(response) == {"reports[1].percent_complete", "reports[2].narrative"}
    assert ProgressReport.objects.count() == 0
    assert ReportTransition.objects.count() == 0
    assert AuditEntry.objects.filter(object_type="pilots.progressreport").count() == 0


def test_a_batch_names_every_bad_item_whatever_the_rule(world):
    batch = quarter(world, item(world, "T4.1", status="completed", percent_complete="90.0"),
                    item(world, "T4.2") | {"subtask": 999999}, item(world, "T5.1", investment_to_date="-5"))

    response = world["chengdu_office"].post(BATCH, batch, format="json")

    assert error_fields(response) == {"reports[0].status", "reports[1].subtask", "reports[2].investment_to_date"}
    assert ProgressReport.objects.count() == 0


def test_a_sub_task_twice_in_one_batch_is_refused(world):
    batch = quarter(world, item(world, "T4.1"), item(world, "T4.1", percent_complete="50.0"))

    response = world["chengdu_office"].post(BATCH, batch, format="json")

    assert response.status_code == 400 and error_fields(response) == {"reports[1].subtask"}
    assert "reports[0]" in response.json()["errors"][0]["message"]
    assert ProgressReport.objects.count() == 0


def test_a_batch_that_repeats_a_filed_report_names_the_item(world):
    world["chengdu_office"].post(BATCH, quarter(world, item(world, "T4.2")), format="json")

    response = world["chengdu_office"].post(BATCH, quarter(world), format="json")

    assert response.status_code == 400 and error_fields(response) == {"reports[1].version"}
    assert ProgressReport.objects.count() == 1


def test_a_batch_retried_with_its_idempotency_key_files_nothing_twice(world):
    office, key = world["chengdu_office"], str(uuid.uuid4())

    first = office.post(BATCH, quarter(world), format="json", HTTP_IDEMPOTENCY_KEY=key)
    retry = office.post(BATCH, quarter(world), format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert ProgressReport.objects.count() == 3
    assert ReportTransition.objects.filter(action="submit").count() == 3


@pytest.mark.parametrize("body, fields", [
    ({"reports": []}, {"reports"}),
    ({"period": "2021-Q3"}, {"period"}),
    ({"pilot": 999999}, {"pilot"}),
])
def test_a_malformed_batch_names_its_field(world, body, fields):
    response = world["chengdu_office"].post(BATCH, quarter(world, **body), format="json")

    assert response.status_code == 400 and error_fields(response) == fields
    assert ProgressReport.objects.count() == 0


def test_a_malformed_batch_still_names_its_bad_items(world):
    batch = quarter(world, item(world, "T4.1", percent_complete="abc"), period="Q3")

    response = world["chengdu_office"].post(BATCH, batch, format="json")

    assert error_fields(response) == {"period", "reports[0].percent_complete"}


def test_an_item_that_is_not_an_object_is_named_by_its_index(world):
    response = world["chengdu_office"].post(BATCH, quarter(world, item(world, "T4.1"), "T4.2"), format="json")

    assert response.status_code == 400 and error_fields(response) == {"reports[1]"}


def test_another_prefecture_cannot_file_a_batch_for_a_pilot_not_its_own(world):
    response = world["luzhou_office"].post(BATCH, quarter(world), format="json")

    assert response.status_code == 400 and error_fields(response) == {"pilot"}
    assert ProgressReport.objects.count() == 0


@pytest.mark.parametrize("who, expected", [("viewer", 403), ("admin", 201)])
def test_only_reporters_and_administrators_file_batches(world, who, expected):
    assert world[who].post(BATCH, quarter(world), format="json").status_code == expected


# --- The spreadsheet: template, import ------------------------------------------------------

def test_a_clerk_downloads_the_template_fills_three_rows_and_uploads_it(world):
    office = world["chengdu_office"]
    template = office.get(TEMPLATE)

    assert template.status_code == 200
    assert template["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert template["Content-Disposition"] == 'attachment; filename="report-template.xlsx"'
    workbook = load_workbook(io.BytesIO(template.content))
    sheet = workbook["填报"]
    assert [cell.value for cell in sheet[1]] == HEADERS and sheet.max_row == 1
    help_text = {cell.value for line in workbook["说明"].iter_rows() for cell in line}
    assert {"510108", "T4.1", "T4.2", "T5.1", "pilot_code"} <= help_text
    assert "510502" not in help_text  # another prefecture's pilot is not listed

    sheet.append(row())
    sheet.append(row(subtask="T4.2", percent=30.5, status="存在风险", narrative="供应商延期。"))
    sheet.append(row(subtask="T5.1", percent=100, status="completed", kpi=None, investment=None))
    filled = io.BytesIO()
    workbook.save(filled)
    response = upload(office, SimpleUploadedFile("成华区.xlsx", filled.getvalue()))

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["count"] == 3 and body["submitted"] is False
    assert [(r["subtask_code"], r["state"], r["receipt"]) for r in body["reports"]] == [
        ("T4.1", "draft", None), ("T4.2", "draft", None), ("T5.1", "draft", None)]
    filed = {r.subtask.code: r for r in ProgressReport.objects.select_related("subtask")}
    assert (filed["T4.2"].percent_complete, filed["T4.2"].status) == (30.5, "at_risk")
    assert (filed["T5.1"].status, filed["T5.1"].kpi_actual) == ("completed", None)


def test_an_uploaded_sheet_can_be_submitted_at_once_with_receipts(world):
    response = upload(world["chengdu_office"], xlsx_upload([row(), row(subtask="T4.2")]), submit=True)

    assert response.status_code == 201
    receipts = [r["receipt"] for r in response.json()["reports"]]
    assert all(hashlib.sha256(r["content"].encode()).hexdigest() == r["sha256"] for r in receipts)
    assert set(ProgressReport.objects.values_list("state", flat=True)) == {"submitted"}


def test_a_bad_row_rejects_the_whole_upload_with_its_row_number(world):
    sheet = xlsx_upload([row(), row(subtask="T4.2"), row(subtask="T5.1", percent=120)])  # the bad one is row 4

    response = upload(world["chengdu_office"], sheet)

    assert response.status_code == 400
    assert error_fields(response) == {"rows[4].percent_complete"}
    assert ProgressReport.objects.count() == 0
    assert AuditEntry.objects.filter(object_type="pilots.progressreport").count() == 0


def test_every_bad_row_is_named_at_once_and_blank_lines_keep_the_numbering(world):
    sheet = xlsx_upload([
        row(),                                                    # 2
        [None] * 10,                                              # 3: blank, skipped
        row(subtask="T9.9"),                                      # 4
        row(subtask="T4.2", period="2022Q1"),                     # 5: not begun
        row(subtask="T5.1", status="delayed", narrative=None),    # 6
        row(subtask="T4.2", status="finished"),                   # 7
        row(subtask="T4.1"),                                      # 8: row 2 again
    ])

    response = upload(world["chengdu_office"], sheet)

    assert error_fields(response) == {"rows[4].subtask_code", "rows[5].period", "rows[6].narrative",
                                      "rows[7].status", "rows[8].subtask_code"}
    assert ProgressReport.objects.count() == 0


def test_a_foreign_pilot_code_is_a_row_error(world):
    response = upload(world["chengdu_office"], xlsx_upload([row(), row(pilot="510502")]))

    assert response.status_code == 400 and error_fields(response) == {"rows[3].pilot_code"}
    assert ProgressReport.objects.count() == 0


@pytest.mark.parametrize("name, content", [
    ("成华区.xlsx", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n"),
    ("成华区.xlsx", "试点代码,子任务代码\n510108,T4.1\n".encode()),
    ("成华区.pdf", b"%PDF-1.7\n"),
    ("成华区.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64),
    ("成华区.csv", b"%PDF-1.7\n\x00\x01binary"),
    ("成华区.csv", "报告,说明\n随便写点什么\n".encode()),
])
def test_a_file_that_is_not_a_report_sheet_is_refused_naming_file(world, name, content):
    response = upload(world["chengdu_office"], SimpleUploadedFile(name, content))

    assert response.status_code in (400, 415)
    assert error_fields(response) == {"file"}
    assert ProgressReport.objects.count() == 0


def test_an_upload_without_a_file_names_file(world):
    response = world["chengdu_office"].post(IMPORT, {"submit": "true"}, format="multipart")

    assert response.status_code == 400 and error_fields(response) == {"file"}


def test_an_import_retried_with_its_idempotency_key_files_nothing_twice(world):
    office, key = world["chengdu_office"], str(uuid.uuid4())
    content = xlsx_upload([row(), row(subtask="T4.2")]).read()

    first = upload(office, SimpleUploadedFile("a.xlsx", content), HTTP_IDEMPOTENCY_KEY=key)
    retry = upload(office, SimpleUploadedFile("a.xlsx", content), HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true" and retry.json() == first.json()
    assert ProgressReport.objects.count() == 2


@pytest.mark.parametrize("who", ["viewer", "luzhou_office"])
def test_who_cannot_import_files_nothing(world, who):
    response = upload(world[who], xlsx_upload([row()]))

    if who == "viewer":
        assert response.status_code == 403
    else:  # a reporter may import, but only for its own pilots
        assert response.status_code == 400 and error_fields(response) == {"rows[2].pilot_code"}
    assert ProgressReport.objects.count() == 0


def test_a_read_only_token_imports_nothing(world):
    reporter = member("reporter", world["chenghua"].prefecture.office)

    response = upload(client_for(reporter, can_write=False), xlsx_upload([row()]))

    assert response.status_code == 403 and ProgressReport.objects.count() == 0


# --- Export, and back -------------------------------------------------------------------------

def file_quarters(world):
    office = world["chengdu_office"]
    for period in ("2021Q2", "2021Q3"):
        office.post(BATCH, quarter(world, item(world, "T4.1", narrative="=SUM(A1) 不是公式"),
                                   item(world, "T4.2", status="at_risk", narrative="供应商延期,\n已约谈。",
                                        percent_complete="12.5", kpi_actual=None),
                                   item(world, "T5.1", investment_to_date="1234567.89", decrease_reason="- 口径调整"),
                                   period=period, submit=period == "2021Q2"), format="json")


def test_an_exported_sheet_of_drafts_reimports_unchanged(world):
    file_quarters(world)
    office = world["chengdu_office"]
    drafts = ProgressReport.objects.filter(period="2021Q3", state="draft")
    before = content_of(drafts)

    export = office.get(EXPORT_XLSX, {"period": "2021Q3", "state": "draft"})
    assert export.status_code == 200
    assert export["Content-Disposition"] == 'attachment; filename="reports-2021-10-15.xlsx"'
    response = upload(office, SimpleUploadedFile("reports-2021-10-15.xlsx", export.content))

    assert response.status_code == 200, response.json()
    assert response.json()["count"] == response.json()["unchanged"] == 3
    assert content_of(ProgressReport.objects.filter(period="2021Q3")) == before
    assert ProgressReport.objects.count() == 6


def test_the_csv_export_round_trips(world):
    file_quarters(world)
    office = world["chengdu_office"]
    drafts = ProgressReport.objects.filter(period="2021Q3")
    before = content_of(drafts)

    export = office.get(EXPORT_CSV, {"period": "2021Q3"})
    assert export["Content-Type"] == "text/csv; charset=utf-8"
    assert export["Content-Disposition"] == 'attachment; filename="reports-2021-10-15.csv"'
    assert export.content.startswith("\ufeff试点代码,试点名称,子任务代码".encode())
    response = upload(office, SimpleUploadedFile("reports.csv", export.content))

    assert response.status_code == 200, response.json()
    assert response.json()["unchanged"] == 3
    assert content_of(ProgressReport.objects.filter(period="2021Q3")) == before


def test_the_export_shows_review_state_receipt_and_the_demo_label(world):
    file_quarters(world)
    world["chenghua"].__class__.objects.filter(pk=world["chenghua"].pk).update(is_demo=True)
    ProgressReport.objects.update(is_demo=True)

    export = world["viewer"].get(EXPORT_XLSX, {"period": "2021Q2"})
    sheet = load_workbook(io.BytesIO(export.content))["填报"]
    header = [cell.value for cell in sheet[1]]
    first = dict(zip(header, [cell.value for cell in sheet[2]]))

    assert sheet.max_row == 4 and sheet.freeze_panes == "A2"
    assert (first["审核状态"], first["版本"], first["演示数据"]) == ("已提交", 1, "演示数据,非正式认定")
    assert first["回执"] == ProgressReport.objects.get(period="2021Q2", subtask__code="T4.1").receipt_hash
    assert first["进展说明"] == "=SUM(A1) 不是公式"  # text, not a formula


def test_a_reporter_of_another_prefecture_exports_none_of_it(world):
    file_quarters(world)

    for url in (EXPORT_XLSX, EXPORT_CSV):
        response = world["luzhou_office"].get(url)
        assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(world["luzhou_office"].get(EXPORT_XLSX).content))["填报"]
    assert sheet.max_row == 1
    assert world["luzhou_office"].get(EXPORT_CSV).content.decode("utf-8-sig").count("\n") == 1


@pytest.mark.parametrize("params, fields", [
    ({"prefecure": "510100"}, {"prefecure"}),
    ({"page": "2"}, {"page"}),
    ({"ordering": "period"}, {"ordering"}),
    ({"period_from": "Q3"}, {"period_from"}),
])
def test_the_export_takes_exactly_the_report_lists_filters(world, params, fields):
    response = world["viewer"].get(EXPORT_XLSX, params)

    assert response.status_code == 400 and error_fields(response) == fields


def test_the_export_answers_a_client_that_asks_for_a_spreadsheet(world):
    response = world["viewer"].get(EXPORT_XLSX, HTTP_ACCEPT="application/vnd.openxmlformats-officedocument."
                                                            "spreadsheetml.sheet")

    assert response.status_code == 200 and response.content.startswith(b"PK")


def test_the_spreadsheet_endpoints_need_credentials(world):
    from rest_framework.test import APIClient

    for url in (TEMPLATE, EXPORT_XLSX, EXPORT_CSV):
        assert APIClient().get(url).status_code == 401
    assert APIClient().post(BATCH, quarter(world), format="json").status_code == 401
