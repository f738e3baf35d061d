"""A clerk's sheet comes from Excel, WPS, LibreOffice or a script: each is imported whole or refused whole.

openpyxl's read-only mode trusts the sheet's ``<dimension>`` element, which some writers leave stale
(at ``A1``, or short of the data). Workbooks here are written by LibreOffice (headless, converted
once for the module), by xlsxwriter and by openpyxl, then imported as written and with the dimension
patched to ``A1`` and to a range that ends before the data: every row is imported, or the file is
refused with nothing written.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import xlsxwriter
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from pilots.models import ProgressReport
from pilots.services.spreadsheets import COLUMNS, MAX_SHEET_ROWS
from smartcity.models import AuditEntry
from tests.factories import OrganisationFactory, PilotFactory, PrefectureFactory, SubTaskFactory, TaskFactory, member
from tests.helpers import client_for, error_fields, missing_tool

IMPORT = "/api/v1/reports/import/"
HEADERS = [column.header for column in COLUMNS if column.key in (
    "pilot_code", "subtask_code", "period", "percent_complete", "status", "narrative")]
ROWS = [
    ["510108", "T4.1", "2021Q3", "45", "按计划推进", "二期平台上线。"],
    ["510108", "T4.2", "2021Q3", "30.5", "存在风险", "供应商延期,已约谈。"],
    ["510108", "T5.1", "2021Q3", "100", "已完成", "已验收。"],
]
BAD_LAST_ROW = ROWS[:2] + [["510108", "T5.1", "2021Q3", "120", "已完成", "超过一百。"]]  # row 4 is bad
SOFFICE = shutil.which("soffice") or "/usr/bin/soffice"


def _cell(value: str):
    """What a writer stores: numbers as numbers (codes too, as Excel would), the rest as text."""
    try:
        return float(value) if "." in value else int(value)
    except ValueError:
        return value


def by_openpyxl(rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "填报"
    sheet.append(HEADERS)
    for values in rows:
        sheet.append([_cell(value) for value in values])
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def by_xlsxwriter(rows) -> bytes:
    output = io.BytesIO()
    workbook = xlsxwriter.Workbook(output, {"in_memory": True})
    sheet = workbook.add_worksheet("填报")
    sheet.write_row(0, 0, HEADERS)
    for number, values in enumerate(rows, start=1):
        sheet.write_row(number, 0, [_cell(value) for value in values])
    workbook.close()
    return output.getvalue()


@pytest.fixture(scope="module")
def by_libreoffice(tmp_path_factory):
    """LibreOffice Calc's own .xlsx of each row set, converted once for the module (a few seconds each)."""
    if not Path(SOFFICE).exists():
        message = "LibreOffice is missing (apt-get install -y libreoffice-calc-nogui)"
        missing_tool(message)
    workdir = tmp_path_factory.mktemp("libreoffice")
    profile = workdir / "profile"  # a private profile: parallel runs do not share LibreOffice's lock
    written = {}
    for name, rows in (("good", ROWS), ("bad_last_row", BAD_LAST_ROW)):
        source = workdir / f"{name}.csv"
        with source.open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows([HEADERS, *rows])
        subprocess.run(
            [SOFFICE, "--headless", f"-env:UserInstallation={profile.as_uri()}", "--infilter=CSV:44,34,76,1",
             "--convert-to", "xlsx", "--outdir", str(workdir), str(source)],
            check=True, capture_output=True, timeout=180, stdin=subprocess.DEVNULL)
        written[name] = (workdir / f"{name}.xlsx").read_bytes()
    return written


def with_dimension(workbook: bytes, ref: str) -> bytes:
    """The workbook with its first sheet's <dimension ref="…"> rewritten, as a stale writer leaves it."""
    source = zipfile.ZipFile(io.BytesIO(workbook))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            data = source.read(entry.filename)
            if entry.filename == "xl/worksheets/sheet1.xml":
                data, count = re.subn(rb'<dimension ref="[^"]*"', f'<dimension ref="{ref}"'.encode(), data)
                assert count == 1, "the sheet has no <dimension> to patch"
            target.writestr(entry, data)
    return output.getvalue()


def with_a_row_far_below(workbook: bytes, row_number: int) -> bytes:
    """The workbook with one more cell at ``row_number``, far below the data."""
    source = zipfile.ZipFile(io.BytesIO(workbook))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            data = source.read(entry.filename)
            if entry.filename == "xl/worksheets/sheet1.xml":
                far = f'<row r="{row_number}"><c r="A{row_number}" t="inlineStr"><is><t>x</t></is></c></row>'
                data = data.replace(b"</sheetData>", far.encode() + b"</sheetData>", 1)
            target.writestr(entry, data)
    return output.getvalue()


@pytest.fixture
def world(db):
    services = TaskFactory(code="T4")
    governance = TaskFactory(code="T5", programme=services.programme)
    chengdu = PrefectureFactory(code="510100", name_zh="成都市")
    SubTaskFactory(task=services, code="T4.1")
    SubTaskFactory(task=services, code="T4.2")
    SubTaskFactory(task=governance, code="T5.1")
    PilotFactory(programme=services.programme, prefecture=chengdu, code="510108", name_zh="成都市成华区")
    return {"office": client_for(member("reporter", OrganisationFactory(kind="prefecture", prefecture=chengdu)),
                                 can_write=True)}


def upload(world, content: bytes):
    return world["office"].post(IMPORT, {"file": SimpleUploadedFile("成华区2021Q3.xlsx", content),
                                         "submit": "false"}, format="multipart")


def written_by(writer: str, rows_name: str, by_libreoffice) -> bytes:
    rows = ROWS if rows_name == "good" else BAD_LAST_ROW
    if writer == "libreoffice":
        return by_libreoffice[rows_name]
    return {"openpyxl": by_openpyxl, "xlsxwriter": by_xlsxwriter}[writer](rows)


WRITERS = ["libreoffice", "xlsxwriter", "openpyxl"]
DIMENSIONS = {"as written": None, "A1": "A1", "short of the data": "A1:F2"}


@pytest.fixture
def libreoffice(request):
    """LibreOffice's workbooks, converted only when a case needs them."""
    return request.getfixturevalue("by_libreoffice") if "libreoffice" in request.node.name else {}


@pytest.mark.parametrize("dimension", DIMENSIONS, ids=list(DIMENSIONS))
@pytest.mark.parametrize("writer", WRITERS)
def test_every_row_is_imported_whatever_the_sheet_says_its_size_is(world, libreoffice, writer, dimension):
    content = written_by(writer, "good", libreoffice)
    if DIMENSIONS[dimension]:
        content = with_dimension(content, DIMENSIONS[dimension])

    response = upload(world, content)

    assert response.status_code == 201, response.json()
    assert response.json()["count"] == 3
    filed = {(r.subtask.code, str(r.percent_complete), r.status)
             for r in ProgressReport.objects.select_related("subtask")}
    assert filed == {("T4.1", "45.0", "on_track"), ("T4.2", "30.5", "at_risk"), ("T5.1", "100.0", "completed")}


@pytest.mark.parametrize("dimension", DIMENSIONS, ids=list(DIMENSIONS))
@pytest.mark.parametrize("writer", WRITERS)
def test_a_bad_row_past_the_stated_size_refuses_the_whole_file(world, libreoffice, writer, dimension):
    content = written_by(writer, "bad_last_row", libreoffice)
    if DIMENSIONS[dimension]:
        content = with_dimension(content, DIMENSIONS[dimension])

    response = upload(world, content)

    assert response.status_code == 400, response.json()
    assert error_fields(response) == {"rows[4].percent_complete"}
    assert ProgressReport.objects.count() == 0
    assert not AuditEntry.objects.filter(object_type="pilots.progressreport").exists()


def test_a_sheet_that_runs_on_past_the_limit_is_refused_with_nothing_written(world):
    content = with_dimension(with_a_row_far_below(by_xlsxwriter(ROWS), 1_048_576), "A1:F4")

    response = upload(world, content)

    assert response.status_code == 400
    assert error_fields(response) == {"file"}
    assert str(MAX_SHEET_ROWS) in response.json()["errors"][0]["message"]
    assert ProgressReport.objects.count() == 0
