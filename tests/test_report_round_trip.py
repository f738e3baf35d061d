"""A clerk exports the quarter's drafts, edits them in Excel and uploads the file again; a system sends the
same reports back by batch. The rows name their reports by version, so the round trip changes and submits
what exists instead of failing on every row as a duplicate."""

import datetime as dt
import hashlib
import io
import uuid

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from pilots.models import ProgressReport, ReportTransition
from smartcity.models import AuditEntry
from tests.factories import OrganisationFactory, PilotFactory, PrefectureFactory, SubTaskFactory, TaskFactory, member
from tests.helpers import client_for, error_fields

pytestmark = pytest.mark.django_db

BATCH = "/api/v1/reports/batch/"
IMPORT = "/api/v1/reports/import/"
EXPORT_XLSX = "/api/v1/reports/export.xlsx"
EXPORT_CSV = "/api/v1/reports/export.csv"
TEMPLATE = "/api/v1/reports/template.xlsx"
TODAY = dt.datetime(2021, 10, 15, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


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
    province = OrganisationFactory(code="province")
    world = {
        "T4.1": SubTaskFactory(task=services, code="T4.1", name_zh="优化“互联网+政务服务”"),
        "T4.2": SubTaskFactory(task=services, code="T4.2", name_zh="升级智慧民生综合应用"),
        "T5.1": SubTaskFactory(task=governance, code="T5.1", name_zh="加强跨区域城市综合管理"),
        "chenghua": PilotFactory(programme=services.programme, prefecture=chengdu, code="510108",
                                 name_zh="成都市成华区"),
        "jiangyang": PilotFactory(programme=services.programme, prefecture=luzhou, code="510502",
                                  name_zh="泸州市江阳区"),
        "chengdu_office": client_for(member("reporter", OrganisationFactory(kind="prefecture", prefecture=chengdu)),
                                     can_write=True),
        "luzhou_office": client_for(member("reporter", OrganisationFactory(kind="prefecture", prefecture=luzhou)),
                                    can_write=True),
        "reviewer": client_for(member("reviewer", province), can_write=True),
    }
    return world


def item(world, subtask, **overrides):
    return {"subtask": world[subtask].pk, "percent_complete": "45.0", "status": "on_track",
            "narrative": "二期平台上线。", "kpi_actual": "86.00", "investment_to_date": "1250.00"} | overrides


def file_drafts(world, *, pilot="chenghua", office="chengdu_office"):
    """The quarter 2021Q3 as three drafts, filed by batch; returns them by sub-task code."""
    body = {"pilot": world[pilot].pk, "period": "2021Q3", "submit": False, "reports": [
        item(world, "T4.1", narrative="=SUM(A1) 不是公式"),
        item(world, "T4.2", status="at_risk", narrative="供应商延期,\n已约谈。", percent_complete="12.5",
             kpi_actual=None),
        item(world, "T5.1", investment_to_date="1234567.89"),
    ]}
    response = world[office].post(BATCH, body, format="json")
    assert response.status_code == 201, response.json()
    return {r.subtask.code: r for r in ProgressReport.objects.filter(pilot=world[pilot]).select_related("subtask")}


def export(client, **params):
    response = client.get(EXPORT_XLSX, {"period": "2021Q3", **params})
    assert response.status_code == 200
    return response.content


def edited(content: bytes, changes: dict[tuple[str, str], object]) -> SimpleUploadedFile:
    """The exported workbook with some cells changed, keyed (sub-task code, column header), as in Excel."""
    workbook = load_workbook(io.BytesIO(content))
    sheet = workbook["填报"]
    header = [cell.value for cell in sheet[1]]
    for line in sheet.iter_rows(min_row=2):
        for (subtask, column), value in changes.items():
            if line[header.index("子任务代码")].value == subtask:
                line[header.index(column)].value = value
    output = io.BytesIO()
    workbook.save(output)
    return SimpleUploadedFile("reports-2021-10-15.xlsx", output.getvalue())


def upload(client, file, *, submit=False, **headers):
    if isinstance(file, bytes):
        file = SimpleUploadedFile("reports-2021-10-15.xlsx", file)
    return client.post(IMPORT, {"file": file, "submit": "true" if submit else "false"}, format="multipart",
                       **headers)


def report_audit():
    return AuditEntry.objects.filter(object_type="pilots.progressreport")


def state_of_everything():
    """What an import must leave alone when it is refused: every report's figures and versions, the audit."""
    reports = sorted(ProgressReport.objects.values_list("pk", "version", "state", "percent_complete", "narrative"))
    return reports, report_audit().count(), ReportTransition.objects.count()


def approve(world, report):
    """The office submits the report and the province approves it."""
    report.refresh_from_db()
    submitted = world["chengdu_office"].post(f"/api/v1/reports/{report.pk}/submit/", HTTP_IF_MATCH=report.etag)
    assert submitted.status_code == 200, submitted.json()
    report.refresh_from_db()
    approved = world["reviewer"].post(f"/api/v1/reports/{report.pk}/approve/", {"comment": "同意。"}, format="json",
                                      HTTP_IF_MATCH=report.etag)
    assert approved.status_code == 200, approved.json()
    report.refresh_from_db()
    return report


# --- The spreadsheet round trip -----------------------------------------------------------------

def test_an_export_of_drafts_imported_unchanged_changes_nothing_and_duplicates_nothing(world):
    drafts = file_drafts(world)
    office = world["chengdu_office"]
    before = state_of_everything()

    response = upload(office, export(office, state="draft"))

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["count"], body["created"], body["updated"], body["unchanged"]) == (3, 0, 0, 3)
    assert [(r["subtask_code"], r["id"], r["outcome"], r["etag"]) for r in body["reports"]] == [
        (code, drafts[code].pk, "unchanged", drafts[code].etag) for code in ("T4.1", "T4.2", "T5.1")]
    assert state_of_everything() == before
    assert ProgressReport.objects.count() == 3


def test_the_export_writes_each_reports_version_and_the_template_leaves_it_empty(world):
    drafts = file_drafts(world)
    office = world["chengdu_office"]

    sheet = load_workbook(io.BytesIO(export(office)))["填报"]
    header = [cell.value for cell in sheet[1]]
    versions = {line[header.index("子任务代码")].value: line[header.index("版本标记")].value
                for line in sheet.iter_rows(min_row=2)}
    template = load_workbook(io.BytesIO(office.get(TEMPLATE).content))["填报"]

    assert versions == {code: report.etag for code, report in drafts.items()}
    assert "版本标记" in [cell.value for cell in template[1]] and template.max_row == 1


def test_a_percent_edited_in_the_export_updates_that_draft_with_a_new_version_and_an_audit_entry(world):
    drafts = file_drafts(world)
    office = world["chengdu_office"]
    audited = report_audit().count()

    response = upload(office, edited(export(office), {("T4.2", "完成百分比"): 30.5}))

    assert response.status_code == 200, response.json()
    outcomes = {r["subtask_code"]: (r["outcome"], r["etag"]) for r in response.json()["reports"]}
    changed = ProgressReport.objects.get(pk=drafts["T4.2"].pk)
    assert (changed.percent_complete, changed.state, changed.version) == (30.5, "draft", drafts["T4.2"].version + 1)
    assert outcomes == {"T4.1": ("unchanged", drafts["T4.1"].etag), "T4.2": ("updated", changed.etag),
                        "T5.1": ("unchanged", drafts["T5.1"].etag)}
    update = report_audit().get(action="update")
    assert report_audit().count() == audited + 1 and update.object_id == str(changed.pk)
    assert ProgressReport.objects.count() == 3


def test_the_file_imported_again_after_an_update_is_refused_on_the_row_that_changed(world):
    file_drafts(world)
    office = world["chengdu_office"]
    file = edited(export(office), {("T4.2", "完成百分比"): 30.5})
    content = file.read()
    assert upload(office, content).status_code == 200
    before = state_of_everything()

    again = upload(office, content)  # the same file: row 3's version is now stale

    assert again.status_code == 400
    assert error_fields(again) == {"rows[3].version"}
    assert again.json()["errors"][0]["code"] == "stale_version"
    assert state_of_everything() == before


def test_a_stale_version_refuses_the_whole_file_naming_the_row_and_the_column(world):
    drafts = file_drafts(world)
    office = world["chengdu_office"]
    exported = export(office)
    # Meanwhile a colleague edits T5.1 through the API.
    patched = office.patch(f"/api/v1/reports/{drafts['T5.1'].pk}/", {"narrative": "同事改过。"}, format="json",
                           HTTP_IF_MATCH=drafts["T5.1"].etag)
    assert patched.status_code == 200, patched.json()
    before = state_of_everything()

    response = upload(office, edited(exported, {("T4.1", "完成百分比"): 50, ("T5.1", "完成百分比"): 60}))

    assert response.status_code == 400
    assert error_fields(response) == {"rows[4].version"}
    error = response.json()["errors"][0]
    assert error["code"] == "stale_version" and str(drafts["T5.1"].pk) in error["message"]
    assert state_of_everything() == before  # not even row 2's edit was written
    assert ProgressReport.objects.get(pk=drafts["T4.1"].pk).percent_complete == 45


def test_an_edited_approved_report_is_refused_saying_it_needs_a_correction(world):
    drafts = file_drafts(world)
    approved = approve(world, drafts["T4.1"])
    office = world["chengdu_office"]
    before = state_of_everything()

    response = upload(office, edited(export(office), {("T4.1", "完成百分比"): 55, ("T4.2", "完成百分比"): 20}))

    assert response.status_code == 400
    assert error_fields(response) == {"rows[2]"}
    error = response.json()["errors"][0]
    assert error["code"] == "correction_required"
    assert f"/api/v1/reports/{approved.pk}/correct/" in error["message"]
    assert state_of_everything() == before


def test_an_unchanged_approved_row_in_the_file_is_left_as_it_is(world):
    drafts = file_drafts(world)
    approve(world, drafts["T4.1"])
    office = world["chengdu_office"]

    response = upload(office, edited(export(office), {("T4.2", "完成百分比"): 20}))

    assert response.status_code == 200, response.json()
    assert [(r["subtask_code"], r["state"], r["outcome"]) for r in response.json()["reports"]] == [
        ("T4.1", "approved", "unchanged"), ("T4.2", "draft", "updated"), ("T5.1", "draft", "unchanged")]


def test_a_corrected_revision_reimports_unchanged_but_cannot_be_edited(world):
    drafts = file_drafts(world)
    approved = approve(world, drafts["T4.1"])
    office = world["chengdu_office"]
    corrected = office.post(f"/api/v1/reports/{approved.pk}/correct/", {"correction_reason": "口径调整。",
                                                                         "percent_complete": "47.0"},
                            format="json", HTTP_IF_MATCH=approved.etag)
    assert corrected.status_code == 201, corrected.json()
    old_revisions = export(office, current="false")

    unchanged = upload(office, old_revisions)
    workbook = load_workbook(io.BytesIO(old_revisions))
    sheet = workbook["填报"]
    header = [cell.value for cell in sheet[1]]
    assert (sheet.cell(2, header.index("子任务代码") + 1).value, sheet.cell(2, header.index("版本") + 1).value) == (
        "T4.1", 1)
    sheet.cell(2, header.index("完成百分比") + 1).value = 40  # the approved revision 1, since corrected
    output = io.BytesIO()
    workbook.save(output)
    before = state_of_everything()
    old_revision_edited = upload(office, output.getvalue())

    assert unchanged.status_code == 200, unchanged.json()
    assert [(r["id"], r["outcome"]) for r in unchanged.json()["reports"]] == [(approved.pk, "unchanged")]
    assert old_revision_edited.status_code == 400 and error_fields(old_revision_edited) == {"rows[2]"}
    assert old_revision_edited.json()["errors"][0]["code"] == "superseded"
    assert state_of_everything() == before


def test_a_report_under_review_cannot_be_changed_by_a_file(world):
    drafts = file_drafts(world)
    office = world["chengdu_office"]
    office.post(f"/api/v1/reports/{drafts['T5.1'].pk}/submit/", HTTP_IF_MATCH=drafts["T5.1"].etag)

    response = upload(office, edited(export(office), {("T5.1", "进展说明"): "改一下。"}))

    assert response.status_code == 400 and error_fields(response) == {"rows[4]"}
    assert response.json()["errors"][0]["code"] == "under_review"


def test_an_exported_quarter_is_submitted_by_importing_it_with_submit(world):
    drafts = file_drafts(world)
    office = world["chengdu_office"]

    response = upload(office, edited(export(office), {("T4.1", "完成百分比"): 50}), submit=True)

    assert response.status_code == 200, response.json()
    reports = response.json()["reports"]
    assert [(r["outcome"], r["state"], r["submitted_now"]) for r in reports] == [
        ("updated", "submitted", True), ("unchanged", "submitted", True), ("unchanged", "submitted", True)]
    for result in reports:
        stored = ProgressReport.objects.get(pk=result["id"])
        assert result["receipt"]["sha256"] == stored.receipt_hash
        assert hashlib.sha256(result["receipt"]["content"].encode()).hexdigest() == stored.receipt_hash
    assert ReportTransition.objects.filter(action="submit").count() == 3
    assert ProgressReport.objects.get(pk=drafts["T4.1"].pk).percent_complete == 50
    assert report_audit().filter(action="update").count() == 1
    assert report_audit().filter(action="submit").count() == 3


def test_a_returned_report_corrected_in_the_file_is_resubmitted(world):
    drafts = file_drafts(world)
    office, reviewer = world["chengdu_office"], world["reviewer"]
    report = drafts["T4.2"]
    office.post(f"/api/v1/reports/{report.pk}/submit/", HTTP_IF_MATCH=report.etag)
    report.refresh_from_db()
    returned = reviewer.post(f"/api/v1/reports/{report.pk}/return/", {"comment": "请补充KPI。"}, format="json",
                             HTTP_IF_MATCH=report.etag)
    assert returned.status_code == 200, returned.json()

    response = upload(office, edited(export(office), {("T4.2", "KPI实际值"): 70}), submit=True)

    assert response.status_code == 200, response.json()
    report.refresh_from_db()
    assert (report.state, report.kpi_actual) == ("submitted", 70)
    assert list(report.transitions.order_by("pk").values_list("action", flat=True)) == [
        "create", "submit", "return", "resubmit"]


def test_the_csv_export_round_trips_with_an_edit(world):
    drafts = file_drafts(world)
    office = world["chengdu_office"]
    text = office.get(EXPORT_CSV, {"period": "2021Q3"}).content.decode("utf-8-sig")
    text = text.replace(",12.5,", ",14.0,")

    response = upload(office, SimpleUploadedFile("reports.csv", text.encode("utf-8-sig")))

    assert response.status_code == 200, response.json()
    assert [r["outcome"] for r in response.json()["reports"]] == ["unchanged", "updated", "unchanged"]
    assert ProgressReport.objects.get(pk=drafts["T4.2"].pk).percent_complete == 14


def test_a_new_row_beside_exported_ones_is_filed_and_answered_201(world):
    file_drafts(world)
    office = world["chengdu_office"]
    workbook = load_workbook(io.BytesIO(export(office)))
    workbook["填报"].append(["510108", None, "T4.1", "2021Q2", 30, "按计划推进", "上季度补报。"])
    output = io.BytesIO()
    workbook.save(output)

    response = upload(office, output.getvalue())

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["created"], body["unchanged"]) == (1, 3)
    assert ProgressReport.objects.count() == 4


def test_a_row_without_its_version_for_a_filed_report_names_the_report_to_change(world):
    drafts = file_drafts(world)
    office = world["chengdu_office"]

    response = upload(office, edited(export(office), {("T4.1", "版本标记"): None}))

    assert response.status_code == 400 and error_fields(response) == {"rows[2].version"}
    error = response.json()["errors"][0]
    assert error["code"] == "exists" and drafts["T4.1"].etag in error["message"]


@pytest.mark.parametrize("tag, code", [("v3", "invalid_version"), ("\"999999.1\"", "unknown_version")])
def test_a_version_that_names_no_report_of_the_row_is_refused(world, tag, code):
    file_drafts(world)
    office = world["chengdu_office"]

    response = upload(office, edited(export(office), {("T4.1", "版本标记"): tag}))

    assert response.status_code == 400 and error_fields(response) == {"rows[2].version"}
    assert response.json()["errors"][0]["code"] == code


def test_another_prefectures_version_reaches_nothing(world):
    theirs = file_drafts(world, pilot="jiangyang", office="luzhou_office")
    file_drafts(world)
    office = world["chengdu_office"]
    before = state_of_everything()

    response = upload(office, edited(export(office), {("T4.1", "版本标记"): theirs["T4.1"].etag,
                                                      ("T4.1", "完成百分比"): 99}))

    assert response.status_code == 400 and error_fields(response) == {"rows[2].version"}
    assert state_of_everything() == before


def test_an_update_retried_with_its_idempotency_key_is_written_once(world):
    drafts = file_drafts(world)
    office, key = world["chengdu_office"], str(uuid.uuid4())
    content = edited(export(office), {("T4.1", "完成百分比"): 50}).read()

    first = upload(office, content, HTTP_IDEMPOTENCY_KEY=key)
    retry = upload(office, content, HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == retry.status_code == 200
    assert retry["Idempotent-Replayed"] == "true" and retry.json() == first.json()
    assert ProgressReport.objects.get(pk=drafts["T4.1"].pk).version == drafts["T4.1"].version + 1
    assert report_audit().filter(action="update").count() == 1


# --- Batch --------------------------------------------------------------------------------------

def test_a_batch_submits_existing_drafts_by_their_versions_with_receipts(world):
    drafts = file_drafts(world)
    items = [item(world, "T4.1", narrative="=SUM(A1) 不是公式", version=drafts["T4.1"].etag),
             item(world, "T4.2", status="at_risk", narrative="供应商延期,已约谈。", percent_complete="15.0",
                  kpi_actual=None, version=drafts["T4.2"].etag),
             item(world, "T5.1", investment_to_date="1234567.89", version=drafts["T5.1"].etag)]

    response = world["chengdu_office"].post(BATCH, {"pilot": world["chenghua"].pk, "period": "2021Q3",
                                                    "submit": True, "reports": items}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["count"], body["created"], body["updated"], body["unchanged"]) == (3, 0, 1, 2)
    assert [(r["report"]["id"], r["outcome"], r["submitted_now"], r["report"]["state"]) for r in body["results"]] == [
        (drafts["T4.1"].pk, "unchanged", True, "submitted"), (drafts["T4.2"].pk, "updated", True, "submitted"),
        (drafts["T5.1"].pk, "unchanged", True, "submitted")]
    for result in body["results"]:
        assert result["receipt"]["sha256"] == ProgressReport.objects.get(pk=result["report"]["id"]).receipt_hash
    assert ProgressReport.objects.count() == 3
    assert ProgressReport.objects.get(pk=drafts["T4.2"].pk).narrative == "供应商延期,已约谈。"


def test_a_batch_with_a_stale_version_files_nothing(world):
    drafts = file_drafts(world)
    stale = drafts["T4.2"].etag
    office = world["chengdu_office"]
    office.patch(f"/api/v1/reports/{drafts['T4.2'].pk}/", {"percent_complete": "13.0"}, format="json",
                 HTTP_IF_MATCH=stale)
    before = state_of_everything()

    response = office.post(BATCH, {"pilot": world["chenghua"].pk, "period": "2021Q3", "submit": True, "reports": [
        item(world, "T4.1", narrative="=SUM(A1) 不是公式", version=drafts["T4.1"].etag),
        item(world, "T4.2", percent_complete="20.0", version=stale)]}, format="json")

    assert response.status_code == 400 and error_fields(response) == {"reports[1].version"}
    assert response.json()["errors"][0]["code"] == "stale_version"
    assert state_of_everything() == before


def test_a_batch_changing_an_approved_report_is_told_to_correct_it(world):
    drafts = file_drafts(world)
    approved = approve(world, drafts["T5.1"])

    response = world["chengdu_office"].post(BATCH, {"pilot": world["chenghua"].pk, "period": "2021Q3", "reports": [
        item(world, "T5.1", percent_complete="60.0", version=approved.etag)]}, format="json")

    assert response.status_code == 400 and error_fields(response) == {"reports[0]"}
    assert f"/api/v1/reports/{approved.pk}/correct/" in response.json()["errors"][0]["message"]
