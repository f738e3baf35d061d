"""Prefecture offices file quarterly progress; the province reviews it."""

import datetime as dt
import hashlib
import json
import uuid

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pilots.models import Organisation, Pilot, ProgressReport, ReportTransition
from smartcity.models import AuditEntry
from tests.factories import OrganisationFactory, PilotFactory, PrefectureFactory, SubTaskFactory, TaskFactory, member
from tests.helpers import client_for, error_fields

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/"
TODAY = dt.datetime(2021, 10, 15, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture(autouse=True)
def mid_october_2021():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def world():
    task = TaskFactory(code="T4")
    online_services = SubTaskFactory(task=task, code="T4.1", name_zh="优化“互联网+政务服务”")
    livelihood = SubTaskFactory(task=task, code="T4.2", name_zh="升级智慧民生综合应用")
    chengdu = PrefectureFactory(code="510100", name_zh="成都市")
    luzhou = PrefectureFactory(code="510500", name_zh="泸州市")
    chenghua = PilotFactory(programme=task.programme, prefecture=chengdu, code="510108", name_zh="成都市成华区",
                            construction_start=dt.date(2021, 1, 22), construction_end=dt.date(2022, 12, 31))
    jiangyang = PilotFactory(programme=task.programme, prefecture=luzhou, code="510502", name_zh="泸州市江阳区")
    province = OrganisationFactory(code="province")
    return {
        "T4.1": online_services, "T4.2": livelihood, "chenghua": chenghua, "jiangyang": jiangyang,
        "chengdu_office": client_for(member("reporter", OrganisationFactory(kind="prefecture", prefecture=chengdu)),
                                     can_write=True),
        "luzhou_office": client_for(member("reporter", OrganisationFactory(kind="prefecture", prefecture=luzhou)),
                                    can_write=True),
        "reviewer": client_for(member("reviewer", province), can_write=True),
        "viewer": client_for(member("viewer", province)),
    }


def chengdu_office_of(world):
    return Organisation.objects.get(prefecture=world["chenghua"].prefecture)


def filing(world, subtask="T4.1", **overrides):
    body = {"pilot": world["chenghua"].pk, "subtask": world[subtask].pk if subtask in world else subtask,
            "period": "2021Q3",
            "percent_complete": "45.0", "status": "on_track", "narrative": "二期平台上线。",
            "kpi_actual": "86.00", "investment_to_date": "1250.00"}
    return body | overrides


def file_report(world, client_key="chengdu_office", **overrides):
    response = world[client_key].post(URL, filing(world, **overrides), format="json")
    assert response.status_code == 201, response.json()
    return response


def act(client, report, verb, body=None, etag=None):
    etag = etag or client.get(f"{URL}{report['id']}/")["ETag"]
    return client.post(f"{URL}{report['id']}/{verb}/", body or {}, format="json", HTTP_IF_MATCH=etag)


# --- The happy path ---------------------------------------------------------------------------

def test_a_prefecture_office_files_a_quarter_and_gets_a_receipt(world):
    draft = file_report(world).json()["report"]
    office = world["chengdu_office"]
    assert draft["state"] == "draft"

    edited = office.patch(f"{URL}{draft['id']}/", {"percent_complete": "50.0"}, format="json",
                          HTTP_IF_MATCH=draft["etag"])
    assert edited.status_code == 200 and edited.json()["percent_complete"] == "50.0"

    submitted = act(office, draft, "submit")
    assert submitted.status_code == 200
    receipt = submitted.json()["receipt"]
    assert submitted.json()["report"]["state"] == "submitted"
    assert hashlib.sha256(receipt["content"].encode()).hexdigest() == receipt["sha256"]
    filed = json.loads(receipt["content"])
    assert filed["percent_complete"] == "50.0" and filed["period"] == "2021Q3" and filed["pilot"] == "510108"
    assert filed["submitted_at"] == receipt["submitted_at"]
    assert ProgressReport.objects.get(pk=draft["id"]).receipt_hash == receipt["sha256"]


def test_filing_and_submitting_in_one_request(world):
    body = file_report(world, submit=True).json()

    assert body["report"]["state"] == "submitted"
    assert len(body["receipt"]["sha256"]) == 64
    assert file_report(world, subtask="T4.2").json()["receipt"] is None
    assert [t["action"] for t in body["report"]["transitions"]] == ["create", "submit"]


def test_the_province_returns_one_report_and_approves_the_rest_and_the_office_resubmits(world):
    first = file_report(world, submit=True).json()["report"]
    second = file_report(world, subtask="T4.2", submit=True).json()["report"]
    reviewer, office = world["reviewer"], world["chengdu_office"]

    returned = act(reviewer, first, "return", {"comment": "请补充投资明细。"})
    approved = act(reviewer, second, "approve")

    assert returned.json()["state"] == "returned" and returned.json()["review_comment"] == "请补充投资明细。"
    assert approved.json()["state"] == "approved"

    etag = office.get(f"{URL}{first['id']}/")["ETag"]
    fixed = office.patch(f"{URL}{first['id']}/", {"investment_to_date": "1300.00"}, format="json", HTTP_IF_MATCH=etag)
    assert fixed.status_code == 200
    resubmitted = act(office, first, "submit")
    assert resubmitted.json()["report"]["state"] == "submitted"
    assert act(reviewer, first, "approve").json()["state"] == "approved"
    actions = list(ReportTransition.objects.filter(report_id=first["id"]).values_list("action", flat=True))
    assert actions == ["create", "submit", "return", "resubmit", "approve"]


def test_an_approved_report_is_corrected_with_a_new_revision(world):
    report = file_report(world, submit=True).json()["report"]
    act(world["reviewer"], report, "approve")
    office = world["chengdu_office"]

    edit = office.patch(f"{URL}{report['id']}/", {"percent_complete": "40.0"}, format="json",
                        HTTP_IF_MATCH=office.get(f"{URL}{report['id']}/")["ETag"])
    assert edit.status_code == 409

    correction = act(office, report, "correct", {"correction_reason": "统计口径调整", "percent_complete": "42.0",
                                                 "decrease_reason": "口径调整"})
    assert correction.status_code == 201
    revision_two = correction.json()
    assert (revision_two["revision"], revision_two["state"], revision_two["is_current"]) == (2, "draft", True)

    history = office.get(f"{URL}{revision_two['id']}/revisions/").json()
    assert [(r["revision"], r["state"], r["is_current"]) for r in history] == [
        (1, "approved", False), (2, "draft", True)]
    assert office.get(URL).json()["count"] == 1  # the list shows current revisions


# --- Safe retries and lost updates ------------------------------------------------------------

def test_a_retry_with_the_same_idempotency_key_files_nothing_twice(world):
    office, key = world["chengdu_office"], str(uuid.uuid4())

    first = office.post(URL, filing(world, submit=True), format="json", HTTP_IDEMPOTENCY_KEY=key)
    retry = office.post(URL, filing(world, submit=True), format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert ProgressReport.objects.count() == 1
    assert ReportTransition.objects.count() == 2


def test_reusing_an_idempotency_key_for_another_request_is_refused(world):
    office, key = world["chengdu_office"], str(uuid.uuid4())
    office.post(URL, filing(world), format="json", HTTP_IDEMPOTENCY_KEY=key)

    response = office.post(URL, filing(world, subtask="T4.2"), format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert ProgressReport.objects.count() == 1


def test_a_transition_retried_with_its_key_is_not_applied_twice(world):
    report = file_report(world).json()["report"]
    office, key = world["chengdu_office"], "submit-510108-T4.1-2021Q3"
    etag = office.get(f"{URL}{report['id']}/")["ETag"]

    first = office.post(f"{URL}{report['id']}/submit/", format="json", HTTP_IF_MATCH=etag, HTTP_IDEMPOTENCY_KEY=key)
    retry = office.post(f"{URL}{report['id']}/submit/", format="json", HTTP_IF_MATCH=etag, HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == retry.status_code == 200
    assert retry.json()["receipt"] == first.json()["receipt"]
    assert ReportTransition.objects.filter(action="submit").count() == 1


def test_two_offices_edit_the_same_report_and_the_second_is_told(world):
    report = file_report(world).json()["report"]
    office = world["chengdu_office"]
    colleague = client_for(member("reporter", chengdu_office_of(world)), can_write=True)
    seen_by_both = office.get(f"{URL}{report['id']}/")["ETag"]

    first = office.patch(f"{URL}{report['id']}/", {"percent_complete": "50.0"}, format="json",
                         HTTP_IF_MATCH=seen_by_both)
    second = colleague.patch(f"{URL}{report['id']}/", {"percent_complete": "55.0"}, format="json",
                             HTTP_IF_MATCH=seen_by_both)

    assert first.status_code == 200
    assert second.status_code == 412
    assert second.json()["code"] == "precondition_failed"
    assert ProgressReport.objects.get(pk=report["id"]).percent_complete == 50


def test_a_change_without_if_match_is_refused(world):
    report = file_report(world).json()["report"]

    response = world["chengdu_office"].patch(f"{URL}{report['id']}/", {"percent_complete": "50.0"}, format="json")

    assert response.status_code == 428
    assert ProgressReport.objects.get(pk=report["id"]).percent_complete == 45


# --- Scope and roles --------------------------------------------------------------------------

def test_another_prefecture_cannot_see_or_touch_any_of_it(world):
    report = file_report(world, submit=True).json()["report"]
    luzhou = world["luzhou_office"]
    path = f"{URL}{report['id']}/"

    assert luzhou.get(URL).json()["count"] == 0
    assert luzhou.get(path).status_code == 404
    assert luzhou.patch(path, {"percent_complete": "1.0"}, format="json", HTTP_IF_MATCH='"1.1"').status_code == 404
    assert luzhou.post(f"{path}submit/", HTTP_IF_MATCH='"1.1"').status_code == 404
    assert luzhou.get(f"{path}revisions/").status_code == 404
    foreign = luzhou.post(URL, filing(world), format="json")
    assert foreign.status_code == 400 and error_fields(foreign) == {"pilot"}
    assert ProgressReport.objects.count() == 1


@pytest.mark.parametrize("who", ["viewer", "reviewer"])
def test_the_province_does_not_file_reports_for_prefectures(world, who):
    response = world[who].post(URL, filing(world), format="json")

    assert response.status_code == 403
    assert ProgressReport.objects.count() == 0


def test_an_office_cannot_approve_its_own_report(world):
    report = file_report(world, submit=True).json()["report"]

    assert act(world["chengdu_office"], report, "approve").status_code == 403
    assert ProgressReport.objects.get(pk=report["id"]).state == "submitted"


def test_a_read_only_token_files_nothing(world):
    reporter = member("reporter", chengdu_office_of(world))

    response = client_for(reporter, can_write=False).post(URL, filing(world), format="json",
                                                          HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 403
    assert response.json()["detail"] == "This token is read-only."


def test_an_integrator_reads_reports_but_writes_nothing(world):
    file_report(world)
    integrator = client_for(member("integrator"))

    assert integrator.get(URL).json()["count"] == 1
    assert integrator.post(URL, filing(world, subtask="T4.2"), format="json").status_code == 403


def test_a_department_sees_only_the_subtasks_it_takes_part_in(world):
    from tests.factories import SubTaskDepartmentFactory

    file_report(world)
    file_report(world, subtask="T4.2")
    assignment = SubTaskDepartmentFactory(subtask=world["T4.2"])
    department = client_for(member("viewer", OrganisationFactory(kind="department", department=assignment.department)))

    assert [r["subtask"]["code"] for r in department.get(URL).json()["results"]] == ["T4.2"]


# --- Rules: each bad input names its field and writes nothing ---------------------------------

@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"period": "2020Q4"}, "period"),  # before construction starts
        ({"period": "2023Q1"}, "period"),  # after construction ends
        ({"period": "2021Q4", "percent_complete": "10.0"}, None),  # the current quarter is fine
        ({"period": "2022Q1"}, "period"),  # a quarter that has not begun
        ({"period": "2021-Q3"}, "period"),
        ({"status": "completed", "percent_complete": "90.0"}, "status"),
        ({"status": "at_risk", "narrative": "  "}, "narrative"),
        ({"status": "delayed", "narrative": ""}, "narrative"),
        ({"percent_complete": "100.5"}, "percent_complete"),
        ({"percent_complete": "-1"}, "percent_complete"),
        ({"percent_complete": "45.25"}, "percent_complete"),
        ({"status": "finished"}, "status"),
        ({"pilot": 999999}, "pilot"),
        ({"subtask": 999999}, "subtask"),
        ({"investment_to_date": "-5"}, "investment_to_date"),
    ],
)
def test_a_rule_breaking_report_is_refused_naming_the_field(world, overrides, field):
    response = world["chengdu_office"].post(URL, filing(world, **overrides), format="json")

    if field is None:
        assert response.status_code == 201
        return
    assert response.status_code == 400, response.json()
    assert error_fields(response) == {field}
    assert ProgressReport.objects.count() == 0
    assert AuditEntry.objects.filter(object_type="pilots.progressreport").count() == 0


def test_a_lower_percent_than_the_last_approved_report_needs_a_reason(world):
    q2 = file_report(world, period="2021Q2", percent_complete="50.0", submit=True).json()["report"]
    act(world["reviewer"], q2, "approve")

    refused = world["chengdu_office"].post(URL, filing(world, percent_complete="40.0"), format="json")
    accepted = world["chengdu_office"].post(URL, filing(world, percent_complete="40.0",
                                                        decrease_reason="需求变更,部分建设内容调整"), format="json")

    assert refused.status_code == 400 and error_fields(refused) == {"decrease_reason"}
    assert accepted.status_code == 201


def test_a_revoked_pilot_accepts_no_new_reports(world):
    Pilot.objects.filter(pk=world["chenghua"].pk).update(state=Pilot.State.REVOKED)

    response = world["chengdu_office"].post(URL, filing(world), format="json")

    assert response.status_code == 400 and error_fields(response) == {"pilot"}
    assert ProgressReport.objects.count() == 0


def test_a_second_report_for_the_same_quarter_is_refused(world):
    first = file_report(world).json()["report"]["id"]
    written = ReportTransition.objects.count(), AuditEntry.objects.count()

    response = world["chengdu_office"].post(URL, filing(world), format="json")

    assert response.status_code == 400 and error_fields(response) == {"period"}
    assert f"ID {first}）" in response.json()["errors"][0]["message"]  # names the report to edit instead
    assert ProgressReport.objects.count() == 1
    assert (ReportTransition.objects.count(), AuditEntry.objects.count()) == written


def test_returning_a_report_needs_a_comment(world):
    report = file_report(world, submit=True).json()["report"]

    response = act(world["reviewer"], report, "return", {"comment": ""})

    assert response.status_code == 400 and error_fields(response) == {"comment"}
    assert ProgressReport.objects.get(pk=report["id"]).state == "submitted"


def test_every_change_is_audited_with_its_request_id(world):
    response = world["chengdu_office"].post(URL, filing(world, submit=True), format="json",
                                            HTTP_X_REQUEST_ID="clerk-retry-000123")
    entries = AuditEntry.objects.filter(request_id="clerk-retry-000123").order_by("id")

    assert [e.action for e in entries] == ["create", "submit"]
    assert entries[1].before["state"] == "draft" and entries[1].after["state"] == "submitted"
    assert entries[0].via == "token" and entries[0].token_prefix.startswith("sct_")
    assert response["X-Request-ID"] == "clerk-retry-000123"


# --- Listing ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "params, expected",
    [
        ({"subtask": "T4.2"}, 1),
        ({"task": "T4"}, 3),
        ({"prefecture": "510100"}, 3),
        ({"period": "2021Q2"}, 1),
        ({"period_from": "2021Q3"}, 2),
        ({"period_to": "2021Q2"}, 1),
        ({"state": "submitted"}, 1),
        ({"state": ["draft", "submitted"]}, 3),
        ({"status": "at_risk"}, 1),
        ({"current": "false"}, 0),
    ],
)
def test_the_province_filters_reports(world, params, expected):
    file_report(world, period="2021Q2")
    file_report(world, submit=True)
    file_report(world, subtask="T4.2", status="at_risk", narrative="供应商延期")

    assert world["viewer"].get(URL, params).json()["count"] == expected


def test_a_bad_period_filter_names_itself(world):
    response = world["viewer"].get(URL, {"period_from": "Q3"})

    assert response.status_code == 400 and error_fields(response) == {"period_from"}


def test_listing_reports_costs_the_same_queries_for_one_row_or_many(world):
    viewer = world["viewer"]
    viewer.get(URL)
    file_report(world, period="2021Q1")
    with CaptureQueriesContext(connection) as one:
        assert viewer.get(URL, {"page_size": 100}).json()["count"] == 1
    for period in ("2021Q2", "2021Q3", "2021Q4"):
        for subtask in ("T4.1", "T4.2"):
            if (period, subtask) != ("2021Q1", "T4.1"):
                file_report(world, period=period, subtask=subtask)

    with CaptureQueriesContext(connection) as many:
        assert viewer.get(URL, {"page_size": 100}).json()["count"] == 7

    assert len(many) == len(one)


# --- Evidence ---------------------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def upload(client, report, name, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(f"{URL}{report['id']}/attachments/", {"file": SimpleUploadedFile(name, content)},
                       format="multipart")


def test_an_office_attaches_evidence_and_the_province_downloads_it(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    report = file_report(world).json()["report"]

    response = upload(world["chengdu_office"], report, "验收报告.pdf", PDF)

    assert response.status_code == 201, response.json()
    attachment = response.json()
    assert attachment["original_name"] == "验收报告.pdf" and attachment["size"] == len(PDF)
    assert attachment["sha256"] == hashlib.sha256(PDF).hexdigest()
    download = world["viewer"].get(attachment["download_url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF
    detail = world["viewer"].get(f"{URL}{report['id']}/").json()
    assert [a["id"] for a in detail["attachments"]] == [attachment["id"]]


@pytest.mark.parametrize(
    "name, content",
    [
        ("evidence.exe", b"MZ\x90\x00"),
        ("evidence.pdf", b"<html>not a pdf</html>"),  # the extension lies about the content
        ("photo.png", PDF),
        ("plan.docx", b"PK\x03\x04 not really a zip"),
        ("empty.pdf", b""),
    ],
)
def test_evidence_that_is_not_what_it_claims_is_refused(world, settings, tmp_path, name, content):
    settings.MEDIA_ROOT = tmp_path
    report = file_report(world).json()["report"]

    response = upload(world["chengdu_office"], report, name, content)

    assert response.status_code == 400 and error_fields(response) == {"file"}
    assert not any(tmp_path.rglob("*.*"))


def test_a_path_in_the_uploaded_name_never_reaches_the_disk(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    report = file_report(world).json()["report"]

    response = upload(world["chengdu_office"], report, "../../etc/passwd.pdf", PDF)

    assert response.status_code == 201
    assert response.json()["original_name"] == "passwd.pdf"
    stored = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(stored) == 1 and tmp_path in stored[0].parents


def test_evidence_that_is_too_large_is_refused(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.EVIDENCE_MAX_BYTES = 100
    report = file_report(world).json()["report"]

    response = upload(world["chengdu_office"], report, "big.pdf", PDF + b"0" * 200)

    assert response.status_code == 400 and error_fields(response) == {"file"}


def test_a_submitted_report_takes_no_more_evidence(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    report = file_report(world, submit=True).json()["report"]

    assert upload(world["chengdu_office"], report, "late.pdf", PDF).status_code == 409


def test_another_prefecture_can_neither_attach_nor_download(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    report = file_report(world).json()["report"]
    attachment = upload(world["chengdu_office"], report, "a.pdf", PDF).json()

    assert upload(world["luzhou_office"], report, "b.pdf", PDF).status_code == 404
    assert world["luzhou_office"].get(attachment["download_url"]).status_code == 404
    assert upload(world["viewer"], report, "c.pdf", PDF).status_code == 403


def test_a_refused_request_leaves_its_idempotency_key_free_for_the_fixed_retry(world):
    office, key = world["chengdu_office"], str(uuid.uuid4())

    refused = office.post(URL, filing(world, percent_complete="120"), format="json", HTTP_IDEMPOTENCY_KEY=key)
    fixed = office.post(URL, filing(world), format="json", HTTP_IDEMPOTENCY_KEY=key)
    replayed = office.post(URL, filing(world), format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert refused.status_code == 400
    assert fixed.status_code == 201 and fixed.get("Idempotent-Replayed") is None
    assert replayed.status_code == 201 and replayed["Idempotent-Replayed"] == "true"
    assert ProgressReport.objects.count() == 1


def test_steps_and_evidence_no_user_took_match_the_documented_schema(world, settings, tmp_path):
    """Found by contract fuzzing: the spec said strings where the API sends "" and null.

    The step that creates a report has no ``from_state`` (""); a step or upload made by a job or a
    command has no ``actor`` / ``uploaded_by`` (null).
    """
    from django.core.files.uploadedfile import SimpleUploadedFile
    from drf_spectacular.generators import SchemaGenerator
    from openapi_schema_validator import OAS30ReadValidator

    from pilots.periods import Period
    from pilots.services.evidence import evidence_attach
    from pilots.services.reports import report_create
    from smartcity.audit import ChangeContext

    settings.MEDIA_ROOT = tmp_path
    report = report_create(pilot=world["chenghua"], subtask=world["T4.1"], period=Period(2021, 3),
                           content={"percent_complete": "45.0", "status": "on_track"}, context=ChangeContext.command())
    evidence_attach(report_id=report.pk, upload=SimpleUploadedFile("a.pdf", PDF), context=ChangeContext.command())

    detail = world["viewer"].get(f"{URL}{report.pk}/").json()

    assert (detail["transitions"][0]["from_state"], detail["transitions"][0]["actor"]) == ("", None)
    assert detail["attachments"][0]["uploaded_by"] is None
    spec = SchemaGenerator().get_schema(request=None, public=True)
    OAS30ReadValidator({"$ref": "#/components/schemas/ReportDetail", "components": spec["components"]}).validate(detail)
