"""Input abuse: whatever a careless or hostile client sends, it gets a clear 4xx and nothing is written.

Each scenario sends one bad input to a real endpoint and checks three things: the status (413 for a
body over the limit, 415 for a wrong content type, 400 otherwise, 404 for an id that cannot exist),
the one error shape with the offending field named where there is one, and that no row (reports,
attachments, plans, milestones, tokens, audit, outbox, idempotency keys) and no file was written.

The rules decided here, the same on SQLite and PostgreSQL:

- NUL (U+0000) and lone surrogates are refused in every text field (PostgreSQL cannot store the
  first, UTF-8 cannot encode the second); every other character, RTL overrides, zero-width
  characters, emoji and combining marks included, is stored exactly as sent (no normalisation).
- File names are display names only: any path, control character or excess length is dropped, the
  file itself is stored under its SHA-256.
- Ids are whole numbers: 1.5 is not pilot 1, 2**63 is no pilot at all (in bodies and in filters).
- JSON nested deeper than 32 levels is a parse error; ``page`` is a whole number from 1 (400 otherwise,
  404 past the last page), ``page_size`` 1–500.
- Accepted on purpose, and tested so: what Python reads as the same number (``"٤٥"``, ``"1_0"``, ``-0.0``
  stored as 0.0, ``/reports/１/`` as report 1, ``２０２１Q3`` as 2021Q3).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook
from rest_framework.test import APIClient

from pilots.models import Milestone, PlanItem, ProgressReport, ReportAttachment
from pilots.services import spreadsheets
from pilots.services.spreadsheets import COLUMNS
from smartcity.models import ApiToken, AuditEntry, IdempotencyRecord, OutboxMessage
from tests.factories import PASSWORD, OrganisationFactory, PilotFactory, PrefectureFactory, SubTaskFactory, TaskFactory
from tests.factories import member
from tests.helpers import client_for, error_fields

pytestmark = pytest.mark.django_db

TODAY = dt.datetime(2021, 10, 15, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
SHAPE = {"status", "code", "detail", "errors", "request_id"}
REPORTS = "/api/v1/reports/"
BATCH = "/api/v1/reports/batch/"
IMPORT = "/api/v1/reports/import/"
PLANS = "/api/v1/plans/"
MILESTONES = "/api/v1/milestones/"
TOKEN = "/api/v1/auth/token/"
BIG_ID = 2**63

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
HTML = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 56


def zipped(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


# --- The world and what "nothing written" means ----------------------------------------------------

@pytest.fixture(autouse=True)
def mid_october_2021():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Uploads go to a folder of this test's own; its parent shows anything written beside it."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return tmp_path


@pytest.fixture
def world():
    task = TaskFactory(code="T4")
    subtask = SubTaskFactory(task=task, code="T4.1")
    other_subtask = SubTaskFactory(task=task, code="T4.2")
    chengdu = PrefectureFactory(code="510100", name_zh="成都市")
    pilot = PilotFactory(programme=task.programme, prefecture=chengdu, code="510108", name_zh="成都市成华区")
    office = OrganisationFactory(kind="prefecture", prefecture=chengdu)
    reporter = member("reporter", office, username="pref-510100")
    client = client_for(reporter, can_write=True)
    draft = client.post(REPORTS, {"pilot": pilot.pk, "subtask": subtask.pk, "period": "2021Q3",
                                  "percent_complete": "45.0", "status": "on_track"}, format="json")
    assert draft.status_code == 201, draft.json()
    plan = client.post(PLANS, {"pilot": pilot.pk, "subtask": subtask.pk, "description": "一网通办二期"},
                       format="json")
    assert plan.status_code == 201, plan.json()
    return {"client": client, "pilot": pilot, "subtask": subtask, "other_subtask": other_subtask,
            "draft": draft.json()["report"], "plan": plan.json()}


def written(root: Path) -> dict:
    return {
        "reports": ProgressReport.objects.count(),
        "attachments": ReportAttachment.objects.count(),
        "plans": PlanItem.objects.count(),
        "milestones": Milestone.objects.count(),
        "tokens": ApiToken.objects.count(),
        "audit": AuditEntry.objects.count(),
        "outbox": OutboxMessage.objects.count(),
        "idempotency": IdempotencyRecord.objects.count(),
        "files": sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()),
    }


@pytest.fixture
def writes_nothing(media):
    @contextmanager
    def check():
        before = written(media)
        yield
        after = written(media)
        assert after == before, {key: (before[key], after[key]) for key in before if before[key] != after[key]}

    return check


def refused(response, status: int, *fields: str | None, code: str | None = None) -> dict:
    """Assert ``response`` is an error of ``status`` in the one shape, naming ``fields``; return its body."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert set(body) == SHAPE and body["status"] == status
    assert body["request_id"] == response["X-Request-ID"]
    if fields:
        assert set(fields) <= error_fields(response), body
    if code:
        assert body["code"] == code, body
    return body


def each(cases, check) -> None:
    """Run ``check(case)`` for every case and report every case that failed, not just the first."""
    failures = []
    for case in cases:
        try:
            check(case)
        except AssertionError as exc:
            failures.append(f"{case!r:.120}: {str(exc)[:400]}")
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(failures)


def report_body(world, **overrides):
    return {"pilot": world["pilot"].pk, "subtask": world["other_subtask"].pk, "period": "2021Q3",
            "percent_complete": "45.0", "status": "on_track", "narrative": "二期平台上线。"} | overrides


def batch_body(world, **overrides):
    return {"pilot": world["pilot"].pk, "period": "2021Q3",
            "reports": [{"subtask": world["other_subtask"].pk, "percent_complete": "45.0", "status": "on_track"}]
            } | overrides


def attach(world, name, content, **extra):
    upload = SimpleUploadedFile(name, content, content_type="application/octet-stream")
    return world["client"].post(f"{REPORTS}{world['draft']['id']}/attachments/", {"file": upload, **extra},
                                format="multipart")


def import_file(world, name, content):
    upload = SimpleUploadedFile(name, content, content_type="application/octet-stream")
    return world["client"].post(IMPORT, {"file": upload}, format="multipart")


def raw_post(world, path, data: bytes | str, content_type="application/json", **headers):
    return world["client"].generic("POST", path, data, content_type=content_type, **headers)


# --- Oversized bodies and uploads ------------------------------------------------------------------

def test_a_json_body_over_the_upload_limit_is_a_413_and_files_nothing(world, writes_nothing, settings):
    """An integrator posts 120 KB where the limit is 64 KB: 413 on every JSON endpoint, nothing filed."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    body = json.dumps(report_body(world, narrative="进" * 40_000))

    def check(path):
        with writes_nothing():
            refused(raw_post(world, path, body), 413, code="request_too_large")

    each([REPORTS, BATCH, PLANS, MILESTONES], check)
    with writes_nothing():
        response = world["client"].generic("PATCH", f"{REPORTS}{world['draft']['id']}/", body,
                                           content_type="application/json", HTTP_IF_MATCH=world["draft"]["etag"])
        refused(response, 413, code="request_too_large")


def test_a_sign_in_with_a_megabyte_password_is_a_413_and_issues_no_token(world, writes_nothing, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    body = json.dumps({"username": "pref-510100", "password": "x" * 1_000_000})

    with writes_nothing():
        refused(APIClient().generic("POST", TOKEN, body, content_type="application/json"), 413)


def test_a_content_length_header_over_the_limit_is_refused(world, writes_nothing, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    with writes_nothing():
        refused(raw_post(world, REPORTS, json.dumps(report_body(world)), CONTENT_LENGTH=str(10**12)), 413)


def test_a_multipart_form_field_over_the_limit_is_a_413(world, writes_nothing, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    with writes_nothing():
        refused(attach(world, "report.pdf", PDF, note="x" * 10_000), 413, code="request_too_large")
        upload = SimpleUploadedFile("q3.csv", b"x")
        refused(world["client"].post(IMPORT, {"file": upload, "submit": "x" * 10_000}, format="multipart"), 413)


def test_a_multipart_body_with_too_many_fields_or_files_is_a_400(world, writes_nothing, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    url = f"{REPORTS}{world['draft']['id']}/attachments/"

    with writes_nothing():
        refused(attach(world, "report.pdf", PDF, **{f"f{n}": "x" for n in range(50)}), 400, code="too_many_fields")
        files = {f"file{n}": SimpleUploadedFile(f"{n}.pdf", PDF) for n in range(10)}
        refused(world["client"].post(url, files, format="multipart"), 400, code="too_many_files")


def test_evidence_over_the_evidence_limit_is_refused_naming_the_file(world, writes_nothing, settings):
    settings.EVIDENCE_MAX_BYTES = 1024

    with writes_nothing():
        refused(attach(world, "scan.pdf", PDF + b"0" * 2048), 400, "file")


def test_a_spreadsheet_over_the_import_limit_is_refused_naming_the_file(world, writes_nothing, monkeypatch):
    monkeypatch.setattr(spreadsheets, "MAX_UPLOAD_BYTES", 1024)
    csv_text = ",".join(column.header for column in COLUMNS) + "\n" + "510108,,T4.2,2021Q3,45,按计划推进,x\n" * 100

    with writes_nothing():
        refused(import_file(world, "big.csv", csv_text.encode()), 400, "file")


# --- Wrong content types and bodies that are not JSON objects --------------------------------------

JSON_ENDPOINTS = [REPORTS, BATCH, PLANS, MILESTONES, TOKEN]


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
def test_a_body_that_is_not_json_is_a_415(world, writes_nothing, path):
    """A clerk's script posts a form, plain text or XML where JSON is expected: 415, nothing filed."""
    cases = [
        ("text/plain", "pilot=1&percent_complete=45"),
        ("application/x-www-form-urlencoded", "pilot=1&subtask=1&period=2021Q3&percent_complete=45&status=on_track"),
        ("multipart/form-data; boundary=xyz", '--xyz\r\nContent-Disposition: form-data; name="pilot"\r\n\r\n1\r\n--xyz--'),
        ("application/xml", "<report><pilot>1</pilot></report>"),
        ("", "{}"),
    ]

    def check(case):
        content_type, data = case
        with writes_nothing():
            refused(raw_post(world, path, data, content_type=content_type), 415, code="unsupported_media_type")

    each(cases, check)


@pytest.mark.parametrize("path", [REPORTS, BATCH, TOKEN])
def test_malformed_json_is_a_400_parse_error(world, writes_nothing, path):
    cases = [
        "{not json",
        '{"pilot": 1,}',
        '{"pilot": NaN}',
        '{"percent_complete": Infinity}',
        '{"percent_complete": -Infinity}',
        '{"pilot": 1} trailing',
        b'{"narrative": "\xff\xfe not utf-8"}',
        b'{"narrative": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8 bytes: invalid UTF-8
        b'\xef\xbb\xbf{"pilot": 1}',  # a UTF-8 BOM: the JSON specification forbids it
        "{'pilot': 1}",
    ]

    def check(data):
        with writes_nothing():
            refused(raw_post(world, path, data), 400, code="parse_error")

    each(cases, check)


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
def test_json_that_is_not_an_object_is_a_400(world, writes_nothing, path):
    def check(data):
        with writes_nothing():
            refused(raw_post(world, path, data), 400, code="invalid")

    each(["[]", '[{"pilot": 1}]', '"a report"', "null", "42", "true", "{}"], check)


def test_a_bogus_charset_is_ignored_not_a_crash(world, writes_nothing):
    with writes_nothing():
        refused(raw_post(world, REPORTS, "[]", content_type="application/json; charset=no-such-codec"), 400)


def test_json_sent_to_an_upload_endpoint_is_a_415(world, writes_nothing):
    with writes_nothing():
        for url in (f"{REPORTS}{world['draft']['id']}/attachments/", IMPORT):
            refused(raw_post(world, url, json.dumps({"file": "JVBERi0xLjQ="})), 415)


def test_a_multipart_upload_without_a_file_names_the_field(world, writes_nothing):
    url = f"{REPORTS}{world['draft']['id']}/attachments/"
    with writes_nothing():
        refused(world["client"].post(url, {"document": "x"}, format="multipart"), 400, "file")
        refused(world["client"].post(url, {"file": "not a file, a string"}, format="multipart"), 400, "file")
        refused(world["client"].post(IMPORT, {"file": ""}, format="multipart"), 400, "file")


def test_a_multipart_body_cut_off_midway_is_a_4xx(world, writes_nothing):
    body = b'--abc\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n%PDF-'
    with writes_nothing():
        response = raw_post(world, f"{REPORTS}{world['draft']['id']}/attachments/", body,
                            content_type="multipart/form-data; boundary=abc")
        refused(response, 400)
        response = raw_post(world, IMPORT, body, content_type="multipart/form-data")  # no boundary at all
        refused(response, 400, code="parse_error")


# --- Uploads whose extension lies about their content ---------------------------------------------

LYING_EVIDENCE = [
    ("report.pdf", ELF),
    ("report.pdf", zipped({"evil.sh": b"rm -rf /"})),
    ("report.pdf", HTML),
    ("report.pdf", b" %PDF-1.4 but not at the start"),
    ("photo.png", HTML),
    ("photo.jpg", PNG),
    ("minutes.docx", zipped({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<x/>"})),  # an xlsx
    ("minutes.docx", zipped({"word/document.xml": b"<x/>"})),  # no [Content_Types].xml
    ("minutes.docx", b"PK\x03\x04 truncated zip"),
    ("budget.xls", PDF),
    ("report.exe", PDF),
    ("report.pdf.exe", PDF),
    ("report.svg", b"<svg onload='alert(1)'/>"),
    ("report.html", HTML),
    ("report", PDF),
    ("report.PDF ", ELF),
    ("report.pdf", b""),
]


@pytest.mark.parametrize("name, content", LYING_EVIDENCE, ids=[f"{n}:{c[:6]!r}" for n, c in LYING_EVIDENCE])
def test_evidence_whose_name_lies_about_its_content_is_refused(world, writes_nothing, name, content):
    """A reporter uploads an ELF renamed to report.pdf: 400 naming the field, nothing stored."""
    with writes_nothing():
        refused(attach(world, name, content), 400, "file")


def test_a_spreadsheet_import_that_is_not_a_spreadsheet_names_the_file(world, writes_nothing):
    cases = [
        ("q3.xlsx", PDF),
        ("q3.xlsx", b"just some text, not a workbook"),
        ("q3.xlsx", zipped({"word/document.xml": b"<x/>", "[Content_Types].xml": b"<Types/>"})),  # a docx
        ("q3.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512),  # an Excel 97 .xls
        ("q3.xlsx", zipped({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<broken"})),
        ("q3.csv", PDF),
        ("q3.csv", PNG),
        ("q3.csv", ELF),
        ("q3.csv", zipped({"a": b"b"})),
        ("q3.csv", b"\xff\xfe\x00\x00garbage"),
        ("q3.csv", "试点代码,子任务代码\n".encode("utf-16")),
        ("q3.csv", b"just,a,csv\nwithout,the,header\n"),
        ("q3.xls", b"whatever"),
        ("q3.exe", b"whatever"),
        ("q3", b"whatever"),
        ("q3.xlsx", b""),
    ]

    def check(case):
        with writes_nothing():
            refused(import_file(world, *case), 400, "file")

    each(cases, check)


def test_a_zip_bomb_posing_as_a_workbook_is_refused_without_unpacking(world, writes_nothing):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("xl/workbook.xml", b"<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            chunk = b"\x00" * (1024 * 1024)
            for _ in range(spreadsheets.MAX_UNPACKED_BYTES // len(chunk) + 1):
                sheet.write(chunk)
    assert len(buffer.getvalue()) < 1024 * 1024  # a few hundred KB that would unpack to over 200 MB

    with writes_nothing():
        refused(import_file(world, "q3.xlsx", buffer.getvalue()), 400, "file")


def test_a_workbook_whose_xml_holds_a_nul_character_is_refused(world, writes_nothing):
    """openpyxl never writes &#0;, but a hand-made file can: the sheet's XML fails to parse, a 400 on file."""
    workbook = Workbook()
    workbook.active.append([column.header for column in COLUMNS])
    workbook.active.append(["510108", None, "T4.2", "2021Q3", 45, "按计划推进", "PLACEHOLDER"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    entries = {info.filename: source.read(info.filename).replace(b"PLACEHOLDER", b"&#0;")
               for info in source.infolist()}

    with writes_nothing():
        refused(import_file(world, "q3.xlsx", zipped(entries)), 400, "file")


def test_a_csv_with_a_nul_character_past_the_sniffed_head_names_the_cell(world, writes_nothing):
    header = ",".join(column.header for column in COLUMNS)
    filler = "\n" * 9000  # blank rows, skipped: the NUL lies past the 8 KB sniffed for binary content
    text = f"{header}{filler}\n510108,,T4.2,2021Q3,45,按计划推进,bad\x00text\n"

    with writes_nothing():
        response = import_file(world, "q3.csv", text.encode())
        refused(response, 400)
        assert any(field.endswith(".narrative") for field in error_fields(response) if field)


# --- Path tricks in file names ----------------------------------------------------------------------

REFUSED = "refused"
TRICKY_NAMES = [
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("/etc/passwd.pdf", "passwd.pdf"),
    ("..\\..\\windows\\system32\\evil.pdf", "evil.pdf"),
    ("C:\\Users\\clerk\\Desktop\\季度报告.pdf", "季度报告.pdf"),
    ("\\\\fileserver\\share\\evil.pdf", "evil.pdf"),
    ("report\x00.exe.pdf", None),
    ("report\u202efdp.exe.pdf", "reportfdp.exe.pdf"),  # an RTL override would show it as …exe
    ("%2e%2e%2fescape.pdf", None),
    ("a" * 1000 + ".pdf", "a" * 196 + ".pdf"),
    ("....pdf", None),
    ("~/.ssh/authorized_keys.pdf", "authorized_keys.pdf"),
    ("line\r\nbreak.pdf", REFUSED),  # a line break ends the multipart header: the name loses its .pdf
]


@pytest.mark.parametrize("name, shown", TRICKY_NAMES, ids=[repr(n)[:40] for n, _s in TRICKY_NAMES])
def test_path_tricks_in_a_file_name_never_reach_the_disk(world, media, writes_nothing, name, shown):
    """The file is stored under its SHA-256 in MEDIA_ROOT; the name is kept for display only, without a path."""
    if shown == REFUSED:
        with writes_nothing():
            refused(attach(world, name, PDF), 400, "file")
        return
    response = attach(world, name, PDF)

    assert response.status_code == 201, response.json()
    stored = ReportAttachment.objects.get()
    display = response.json()["original_name"]
    assert display == stored.original_name
    if shown is not None:
        assert display == shown
    for bad in ("/", "\\", "\x00", "\r", "\n", "\u202e"):
        assert bad not in display
    assert not display.startswith("..") or display == "....pdf"
    assert len(display) <= 200 and display.endswith(".pdf")
    assert Path(stored.file.name).name == f"{stored.sha256}.pdf"
    files = [path for path in media.rglob("*") if path.is_file()]
    assert files == [Path(stored.file.path)]
    assert Path(stored.file.path).resolve().is_relative_to((media / "media").resolve())
    download = world["client"].get(response.json()["download_url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF
    assert "/" not in download["Content-Disposition"].split("filename", 1)[1]


# --- Deeply nested or huge JSON --------------------------------------------------------------------

@pytest.mark.parametrize("path, field", [(REPORTS, "narrative"), (BATCH, "reports"), (PLANS, "description"),
                                         (TOKEN, "username")])
def test_deeply_nested_json_is_a_400_not_a_crash(world, writes_nothing, path, field):
    """10,000 levels of [[[[…]]]] would be a RecursionError (a 500); 900 would parse, then break the
    Idempotency-Key hashing. Anything nested past 32 levels is a parse error."""
    base = json.dumps(report_body(world) | {"username": "pref-510100", "password": PASSWORD})

    def check(depth):
        nested = "[" * depth + "]" * depth
        with writes_nothing():
            response = raw_post(world, path, base[:-1] + f', "{field}": {nested}}}',
                                HTTP_IDEMPOTENCY_KEY=f"nested-{depth}")
            refused(response, 400, code="parse_error")

    each([33, 900, 10_000, 100_000], check)


def test_json_nested_within_the_limit_is_judged_field_by_field(world, writes_nothing):
    body = report_body(world, narrative=[[[[["deep"]]]]])

    with writes_nothing():
        refused(world["client"].post(REPORTS, body, format="json", HTTP_IDEMPOTENCY_KEY="shallow"), 400, "narrative")


def test_a_batch_of_a_hundred_thousand_items_is_refused_naming_the_list(world, writes_nothing):
    items = [{}] * 100_000  # 300 KB: under the body limit, a thousand times the 100 items allowed

    with writes_nothing():
        refused(world["client"].post(BATCH, batch_body(world, reports=items), format="json"), 400, "reports")


def test_a_field_that_gets_a_list_or_an_object_names_the_field(world, writes_nothing):
    cases = [
        ("narrative", list(range(100_000))),
        ("narrative", {"a": 1}),
        ("pilot", list(range(100_000))),
        ("percent_complete", [45]),
        ("status", {"on_track": True}),
        ("status", ["on_track"]),
        ("period", ["2021Q3"]),
        ("subtask", {"id": 1}),
    ]

    def check(case):
        field, value = case
        with writes_nothing():
            refused(world["client"].post(REPORTS, report_body(world, **{field: value}), format="json"), 400, field)

    each(cases, check)


# --- Huge strings ----------------------------------------------------------------------------------

def full_body(world, **overrides):
    """One body that every JSON endpoint accepts the fields of."""
    return {**report_body(world), "plan_item": world["plan"]["id"], "due_on": "2021-12-31", "target_percent": "50",
            "title": "招标", "description": "x", "username": "pref-510100", "password": PASSWORD} | overrides


def test_a_string_one_past_its_limit_names_the_field(world, writes_nothing):
    cases = [
        (REPORTS, "narrative", 20_000),
        (REPORTS, "decrease_reason", 5_000),
        (PLANS, "description", 20_000),
        (PLANS, "kpi_name", 200),
        (PLANS, "kpi_unit", 50),
        (PLANS, "responsible_unit", 200),
        (MILESTONES, "title", 200),
        (TOKEN, "username", 150),
        (TOKEN, "password", 256),
        (TOKEN, "name", 100),
    ]

    def check(case):
        path, field, limit = case
        client = APIClient() if path == TOKEN else world["client"]
        with writes_nothing():
            response = client.post(path, full_body(world, **{field: "进" * (limit + 1)}), format="json")
            refused(response, 400, field, code="invalid")

    each(cases, check)


def test_a_review_comment_past_its_limit_names_the_field(world, writes_nothing):
    reviewer = client_for(member("reviewer"), can_write=True)
    draft = world["draft"]
    submitted = world["client"].post(f"{REPORTS}{draft['id']}/submit/", {}, format="json",
                                     HTTP_IF_MATCH=draft["etag"])
    assert submitted.status_code == 200

    with writes_nothing():
        response = reviewer.post(f"{REPORTS}{draft['id']}/return/", {"comment": "改" * 5001}, format="json",
                                 HTTP_IF_MATCH=submitted["ETag"])
        refused(response, 400, "comment")


# --- Odd Unicode -----------------------------------------------------------------------------------

NUL_CASES = ["bad\x00text", "\x00", "\x00" * 1000]
TEXT_FIELDS = [
    (REPORTS, "narrative"), (REPORTS, "decrease_reason"), (REPORTS, "period"), (REPORTS, "status"),
    (BATCH, "reports[0].narrative"), (BATCH, "period"), (PLANS, "description"), (PLANS, "kpi_unit"),
    (PLANS, "responsible_unit"), (MILESTONES, "title"), (TOKEN, "username"), (TOKEN, "password"), (TOKEN, "name"),
]


@pytest.mark.parametrize("path, field", TEXT_FIELDS)
def test_nul_and_lone_surrogates_are_refused_in_every_text_field(world, writes_nothing, path, field):
    """PostgreSQL cannot store NUL, UTF-8 cannot encode a lone surrogate: a 400 on both databases, not a 500."""
    client = APIClient() if path == TOKEN else world["client"]

    def check(value):
        if field.startswith("reports[0]."):
            body = batch_body(world)
            body["reports"][0]["narrative"] = value
        else:
            body = (batch_body(world) if path == BATCH else full_body(world)) | {field: value}
        raw = json.dumps(body)  # ensure_ascii: "\ud800" travels as an escape, as a client library sends it
        with writes_nothing():
            response = client.generic("POST", path, raw, content_type="application/json")
            refused(response, 400, field)

    each(NUL_CASES + ["lone \ud800 surrogate", "\udfff", "\udbff\udbff"], check)


def test_a_nul_in_an_edit_or_a_review_comment_is_refused_too(world, writes_nothing):
    draft = world["draft"]
    with writes_nothing():
        response = world["client"].patch(f"{REPORTS}{draft['id']}/", {"narrative": "a\x00b"}, format="json",
                                         HTTP_IF_MATCH=draft["etag"])
        refused(response, 400, "narrative")
        response = world["client"].patch(f"{PLANS}{world['plan']['id']}/", {"kpi_name": "\x00"}, format="json",
                                         HTTP_IF_MATCH=world["plan"]["etag"])
        refused(response, 400, "kpi_name")


def test_a_nul_in_a_query_parameter_or_a_url_is_a_4xx(world, writes_nothing):
    client = world["client"]
    with writes_nothing():
        refused(client.get(f"{REPORTS}?prefecture=51%000100"), 400, "prefecture")
        refused(client.get(f"{REPORTS}?period_from=2021%00Q1"), 400, "period_from")
        refused(client.get(f"{REPORTS}?pilot=1%00"), 400, "pilot")
        refused(client.get(f"{PLANS}?subtask=T4%00"), 400, "subtask")
        refused(client.get(f"{PLANS}?search=%00"), 400, code="invalid")
        refused(client.get(f"{REPORTS}%00/"), 404)
        refused(client.get(f"{REPORTS}?ordering=%00"), 400, "ordering")
        refused(client.get(f"{REPORTS}?state=%00"), 400, "state")
        refused(client.get(f"{REPORTS}?%00=1"), 400)


ODD_BUT_FINE = {
    "rtl": "成华区\u202e反转\u202c的文字 and \u200fעברית\u200e",
    "zero_width": "零\u200b宽\u200c字\u200d符\u2060\ufeff",
    "emoji": "智慧城市 🏙️👩🏽‍💻🇨🇳 完成",
    "combining": "e\u0301 versus \u00e9, Z\u0351\u0361\u036b\u0346a\u0352l\u0310g\u0363o",
    "astral": "𠀀𪚥 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "controls": "tab\tinside, bell\x07, escape\x1b[31m, delete\x7f",
    "full_width": "ＡＢＣ１２３,全角",
    "noncharacter": "\ufffe\uffff\U0010ffff",
}


def test_odd_but_valid_unicode_is_stored_exactly_as_sent(world):
    """RTL overrides, zero-width characters, emoji, combining marks: stored and returned unchanged, not normalised."""
    subtasks = [SubTaskFactory(task=world["subtask"].task) for _ in ODD_BUT_FINE]

    def check(kind):
        text = ODD_BUT_FINE[kind]
        subtask = subtasks[sorted(ODD_BUT_FINE).index(kind)]
        response = world["client"].post(REPORTS, report_body(world, subtask=subtask.pk, narrative=text,
                                                             decrease_reason=text), format="json")
        assert response.status_code == 201, response.json()
        report = ProgressReport.objects.get(pk=response.json()["report"]["id"])
        assert report.narrative == text and report.decrease_reason == text
        assert world["client"].get(f"{REPORTS}{report.pk}/").json()["narrative"] == text

    each(sorted(ODD_BUT_FINE), check)


def test_odd_unicode_in_a_file_name_is_kept_for_display(world):
    response = attach(world, "季度报告 🏙️ e\u0301\u200b.pdf", PDF)

    assert response.status_code == 201, response.json()
    assert response.json()["original_name"] == "季度报告 🏙️ e\u0301.pdf"  # the zero-width space is not printable


# --- Page sizes and page numbers -------------------------------------------------------------------

LISTS = [REPORTS, PLANS, MILESTONES, "/api/v1/pilots/", "/api/v1/audit/", "/api/v1/auth/tokens/",
         "/api/v1/subtasks/"]


@pytest.mark.parametrize("path", LISTS)
def test_an_impossible_page_size_names_page_size(world, writes_nothing, path):
    client = world["client"] if path != "/api/v1/audit/" else client_for(member("admin"))

    def check(value):
        with writes_nothing():
            refused(client.get(f"{path}?page_size={value}"), 400, "page_size")

    each(["0", "-1", "501", str(2**63), "9" * 5000, "abc", "", "1.5", "1e3", "NaN", "%00", "50;DROP TABLE"], check)


@pytest.mark.parametrize("path", [REPORTS, PLANS, "/api/v1/pilots/"])
def test_a_page_number_that_is_no_number_names_page(world, writes_nothing, path):
    def check(value):
        with writes_nothing():
            refused(world["client"].get(f"{path}?page={value}"), 400, "page")

    each(["0", "00", "-1", "abc", "1.5", "1e3", "NaN", "%00", "１", "%2B1", "%201", "first"], check)


def test_a_page_past_the_last_is_a_404(world, writes_nothing):
    def check(value):
        with writes_nothing():
            refused(world["client"].get(f"{REPORTS}?page={value}"), 404, code="not_found")

    each(["2", "999", str(2**63), "9" * 5000], check)


def test_the_last_page_and_the_largest_page_size_still_work(world):
    assert world["client"].get(f"{REPORTS}?page=last&page_size=500").status_code == 200
    assert world["client"].get(f"{REPORTS}?page=1&page_size=1").json()["count"] == 1
    assert world["client"].get(f"{REPORTS}?page=").status_code == 200  # an empty page is the first, as in DRF


# --- Ids in URLs and in bodies ---------------------------------------------------------------------

BAD_URL_IDS = ["abc", "-1", "0", str(BIG_ID), str(2**64), "9" * 5000, "1.5", "1e3", "%2e%2e", "0x1", "1;1", "NaN"]


@pytest.mark.parametrize("route", ["reports", "plans", "milestones", "pilots", "auth/tokens", "audit", "subtasks",
                                   "notifications", "webhooks"])
def test_an_id_that_cannot_exist_is_a_404_in_a_detail_route(world, writes_nothing, route):
    client = {"audit": client_for(member("admin")), "webhooks": client_for(member("integrator"))}.get(
        route, world["client"])

    def check(raw_id):
        with writes_nothing():
            refused(client.get(f"/api/v1/{route}/{raw_id}/"), 404)

    each(BAD_URL_IDS, check)


def test_a_change_to_an_id_that_cannot_exist_is_a_404_and_changes_nothing(world, writes_nothing):
    client = world["client"]

    def check(raw_id):
        with writes_nothing():
            refused(client.patch(f"{REPORTS}{raw_id}/", {"narrative": "x"}, format="json", HTTP_IF_MATCH='"1.1"'),
                    404)
            refused(client.post(f"{REPORTS}{raw_id}/submit/", {}, format="json", HTTP_IF_MATCH='"1.1"'), 404)
            refused(client.delete(f"{PLANS}{raw_id}/", HTTP_IF_MATCH='"1.1"'), 404)
            refused(client.delete(f"/api/v1/auth/tokens/{raw_id}/"), 404)
            refused(attach(world | {"draft": {"id": raw_id}}, "a.pdf", PDF), 404)

    each(BAD_URL_IDS, check)


def test_an_id_python_reads_as_a_number_is_no_second_name_for_the_object(world):
    """``１`` (full-width) and ``1 `` are read as 1 by int(); a route id is ASCII digits only, so both are a 404
    (this was a known leniency: DRF's default lookup pattern passed them on)."""
    draft = world["draft"]["id"]
    full_width = "".join(chr(0xFF10 + int(digit)) for digit in str(draft))
    assert world["client"].get(f"{REPORTS}{draft}/").json()["id"] == draft
    for alias in (full_width, f"{draft}%20"):
        refused(world["client"].get(f"{REPORTS}{alias}/"), 404)


def test_ids_past_64_bits_in_integer_routes_and_filters_are_a_4xx(world, writes_nothing):
    draft = world["draft"]["id"]
    cases = [
        (f"/api/v1/pilots/{BIG_ID}/completion/", 404),
        (f"/api/v1/pilots/{2**64}/completion/", 404),
        (f"{REPORTS}{draft}/attachments/{BIG_ID}/", 404),
        (f"{REPORTS}{draft}/attachments/{'9' * 5000}/", 404),
        (f"/api/v1/completion/history/?scope=pilot&id={BIG_ID}", 400),
        (f"{REPORTS}?pilot={BIG_ID}", 400),
        (f"{REPORTS}?pilot=1.5", 400),
        (f"{REPORTS}?pilot=NaN", 400),
        (f"{PLANS}?pilot={BIG_ID}", 400),
        (f"{MILESTONES}?plan_item={2**64}", 400),
        (f"{MILESTONES}?pilot=1e309", 400),
        (f"/api/v1/pilots/?batch={2**63}", 400),
        ("/api/v1/pilots/?batch=2020.5", 400),
    ]

    def check(case):
        path, status = case
        with writes_nothing():
            refused(world["client"].get(path), status)

    each(cases, check)


def test_an_id_filter_with_a_fraction_is_refused_not_rounded_down(world):
    """?pilot=1.5 used to list pilot 1's reports: the database rounds 1.5 down."""
    pilot = world["pilot"].pk

    assert world["client"].get(f"{REPORTS}?pilot={pilot}").json()["count"] == 1
    refused(world["client"].get(f"{REPORTS}?pilot={pilot}.5"), 400, "pilot")
    # An id is written one way, in ASCII digits: 1.0 names no pilot (nor its county code) either.
    refused(world["client"].get(f"{REPORTS}?pilot={pilot}.0"), 400, "pilot")


BAD_BODY_IDS = [-1, 0, BIG_ID, 2**64, -(2**63) - 1, "abc", "", None, True, False, [1], {"id": 1}, "1e3", "NaN",
                "\x00", "1 OR 1=1"]


@pytest.mark.parametrize("path, field", [(REPORTS, "pilot"), (REPORTS, "subtask"), (BATCH, "pilot"),
                                         (BATCH, "reports[0].subtask"), (PLANS, "pilot"), (PLANS, "subtask"),
                                         (MILESTONES, "plan_item")])
def test_a_foreign_key_that_is_not_an_id_names_the_field(world, writes_nothing, path, field):
    """1.5 is not pilot 1: an id with a fraction is refused, not rounded down to someone's pilot."""
    real = {"pilot": world["pilot"].pk, "subtask": world["other_subtask"].pk, "plan_item": world["plan"]["id"],
            "reports[0].subtask": world["other_subtask"].pk}[field]

    def check(value):
        body = (batch_body(world) if path == BATCH else full_body(world)) | {"subtask": world["other_subtask"].pk}
        if field.startswith("reports[0]."):
            body["reports"][0]["subtask"] = value
        else:
            body[field] = value
        with writes_nothing():
            refused(world["client"].post(path, body, format="json"), 400, field)

    each(BAD_BODY_IDS + [real + 0.5, real - 0.5, f"{real}.5", "Infinity", 1e300], check)


def test_a_whole_number_written_as_a_float_or_a_string_is_still_that_id(world):
    body = report_body(world, pilot=float(world["pilot"].pk), subtask=f"{world['other_subtask'].pk}")

    assert world["client"].post(REPORTS, body, format="json").status_code == 201


def test_an_if_match_that_is_no_version_is_a_412(world, writes_nothing):
    url = f"{REPORTS}{world['draft']['id']}/"

    def check(etag):
        with writes_nothing():
            refused(world["client"].patch(url, {"narrative": "x"}, format="json", HTTP_IF_MATCH=etag), 412)

    each(['"1.99999999999999999999999999"', f'"{BIG_ID}.1"', '"1.-1"', '"\x00"', "*", '"1.1", "1.2"',
          "W/" + '"' + "9" * 5000 + '"', '"１.１"', "1.1"], check)


def test_an_idempotency_key_that_is_not_printable_ascii_names_the_header(world, writes_nothing):
    def check(key):
        with writes_nothing():
            response = world["client"].post(REPORTS, report_body(world), format="json", HTTP_IDEMPOTENCY_KEY=key)
            refused(response, 400, "Idempotency-Key")

    each(["ключ-идемпотентности", "has space", "x" * 256, "tab\there", "nul\x00"], check)


# --- Numbers: floats where integers are expected, and percents that are no percent -----------------

@pytest.mark.parametrize("path", [REPORTS, BATCH])
def test_a_percent_that_is_no_percent_names_the_field(world, writes_nothing, path):
    if path == BATCH:
        template = json.dumps(batch_body(world, reports=[{"subtask": world["other_subtask"].pk, "status": "on_track",
                                                          "percent_complete": "__RAW__"}]))
        field = "reports[0].percent_complete"
    else:
        template = json.dumps(report_body(world, percent_complete="__RAW__"))
        field = "percent_complete"

    def check(raw):
        with writes_nothing():
            refused(raw_post(world, path, template.replace('"__RAW__"', raw)), 400, field)

    each(['"NaN"', '"nan"', '"sNaN"', '"Infinity"', '"-Infinity"', '"inf"', "1e309", "-1e309", '"100.05"', "100.05",
          '"45.50"', '"1e3"', "-0.1", "100.1", '"45,5"', '"45%"', '""', "null", "true", '"0x2D"', str(10**400),
          '"' + "9" * 5000 + '"', "[45]", '{"value": 45}', '"4\\u00005"'], check)


@pytest.mark.parametrize("raw, stored", [("-0.0", "0.0"), ('"-0"', "0.0"), ("1e2", "100.0"), ("0", "0.0"),
                                         ('" 45 "', "45.0"), ('"٤٥"', "45.0"), ('"1_0"', "10.0"),
                                         ("99.99999999", None)])
def test_a_percent_written_oddly_but_valid_is_stored_as_its_plain_value(world, raw, stored):
    """Accepted as the number Python's Decimal reads (Arabic-Indic digits, digit separators); -0 is 0."""
    body = json.dumps(report_body(world)).replace('"45.0"', raw)

    response = raw_post(world, REPORTS, body)

    if stored is None:  # more decimals than the field keeps: refused, never rounded silently
        refused(response, 400, "percent_complete")
        return
    assert response.status_code == 201, response.json()
    assert response.json()["report"]["percent_complete"] == stored
    assert str(ProgressReport.objects.get(pk=response.json()["report"]["id"]).percent_complete) == stored


def test_other_figures_out_of_range_name_the_field(world, writes_nothing):
    cases = [("investment_to_date", "-1"), ("investment_to_date", "1e15"), ("kpi_actual", "1e20"),
             ("kpi_actual", "NaN"), ("investment_to_date", "Infinity"), ("kpi_actual", "1.001")]

    def check(case):
        field, value = case
        with writes_nothing():
            refused(world["client"].post(REPORTS, report_body(world, **{field: value}), format="json"), 400, field)

    each(cases, check)


def test_a_token_lifetime_that_is_no_whole_number_of_days_names_the_field(world, writes_nothing):
    def check(raw):
        body = json.dumps({"username": "pref-510100", "password": PASSWORD, "expires_in_days": "__RAW__"})
        with writes_nothing():
            response = APIClient().generic("POST", TOKEN, body.replace('"__RAW__"', raw),
                                           content_type="application/json")
            refused(response, 400, "expires_in_days")

    each(["1.5", '"7.5"', "-1", "0", "1000000", '"NaN"', "1e309", '"1e3"', "true", str(2**63), "[30]"], check)


def test_a_milestone_date_that_is_no_date_names_due_on(world, writes_nothing):
    def check(value):
        body = {"plan_item": world["plan"]["id"], "title": "招标", "due_on": value, "target_percent": "50"}
        with writes_nothing():
            refused(world["client"].post(MILESTONES, body, format="json"), 400, "due_on")

    each(["2021-02-30", "99999-01-01", "0000-00-00", "2021-13-01", "yesterday", 20211231, "2021-12-31T25:00", "\x00",
          "", None, ["2021-12-31"]], check)


def test_a_period_that_is_no_quarter_names_period(world, writes_nothing):
    def check(period):
        with writes_nothing():
            refused(world["client"].post(REPORTS, report_body(world, period=period), format="json"), 400, "period")

    each(["2021Q5", "2021Q0", "99999Q1", "0000Q1", "-2021Q1", "2021q3x", "2021Q3\x00", "2021-Q3", 20213, None,
          ["2021Q3"], "2022Q1", "", "２０２１Ｑ３"], check)


@pytest.mark.parametrize("period", ["２０２１Q3", "2021q3", " 2021Q3\n"])
def test_a_quarter_in_full_width_digits_or_lower_case_is_read_as_that_quarter(world, period):
    response = world["client"].post(REPORTS, report_body(world, period=period), format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["report"]["period"] == "2021Q3"
