"""The progress-report spreadsheet: one format for export, the empty template and import.

A prefecture clerk keeps the quarter's figures in Excel. The sheet 「填报」 has one header row in Chinese
(the stable machine key of each column is in the header cell's comment and on the sheet 「说明」) and
one report per row: one pilot, one sub-task, one quarter. The same columns are written to CSV (UTF-8
with a BOM so that Excel shows the Chinese correctly) and read back from either format.

Everything here is pure: rows in, bytes out, and back. Resolving codes and filing the reports is
``pilots.services.bulk.reports_import``.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import PurePath
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from pilots.labels import DEMO_LABEL
from pilots.models import ProgressReport
from smartcity import exports

MAX_ROWS = 5000  # reports per upload
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_UNPACKED_BYTES = 200 * 1024 * 1024  # an XLSX is a zip: refuse one that unpacks to more than this
MAX_SHEET_ROWS = 100_000  # physical rows scanned, blank or not
MAX_COLUMNS = 64

DATA_SHEET = "填报"
HELP_SHEET = "说明"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Status = ProgressReport.Status
State = ProgressReport.State

STATUS_ZH = {
    Status.NOT_STARTED: "未开始",
    Status.ON_TRACK: "按计划推进",
    Status.AT_RISK: "存在风险",
    Status.DELAYED: "进度滞后",
    Status.COMPLETED: "已完成",
}
STATE_ZH = {State.DRAFT: "草稿", State.SUBMITTED: "已提交", State.APPROVED: "已通过", State.RETURNED: "已退回"}


@dataclass(frozen=True)
class Column:
    key: str  # stable machine key, the same in every language
    header: str  # what the clerk sees in row 1
    help: str
    width: int
    imported: bool = True  # False: written on export, ignored on import
    required: bool = False
    number_format: str | None = None
    text: bool = False  # free text: never let Excel read it as a formula


COLUMNS: tuple[Column, ...] = (
    Column("pilot_code", "试点代码", "试点的县级行政区划代码(6 位数字),见「说明」表中的试点清单。", 11,
           required=True, number_format="@"),
    Column("pilot_name", "试点名称", "仅供阅读,导入时忽略。", 20, imported=False, text=True),
    Column("subtask_code", "子任务代码", "子任务代码,如 T4.1,见「说明」表中的子任务清单。", 11,
           required=True, number_format="@"),
    Column("period", "报告期", "季度,写作 2021Q3。", 10, required=True, number_format="@"),
    Column("percent_complete", "完成百分比", "0 到 100 的数字,最多一位小数,如 45.5。", 11, required=True,
           number_format="0.0"),
    Column("status", "状态", "未开始、按计划推进、存在风险、进度滞后、已完成之一(也可写英文代码 not_started、"
           "on_track、at_risk、delayed、completed)。", 13, required=True),
    Column("narrative", "进展说明", "本季度进展。状态为存在风险或进度滞后时必填。", 48, text=True),
    Column("kpi_actual", "KPI实际值", "子任务考核指标的实际值(数字,最多两位小数),可留空。", 12,
           number_format="0.00"),
    Column("investment_to_date", "累计投资(万元)", "截至本季度的累计投资,单位万元,可留空。", 15,
           number_format="#,##0.00"),
    Column("decrease_reason", "下降原因", "完成百分比低于上次审核通过的报告时必填。", 28, text=True),
    Column("version", "版本标记", "导出时写入,请勿修改:报告的 ETag(如 \"42.3\")。带此标记的行修改该草稿或退回的报告,"
           "标记过期(报告已被他人修改)时整份文件不导入;新报告留空。", 12, number_format="@"),
    Column("state", "审核状态", "导出专用,导入时忽略:草稿、已提交、已通过、已退回。", 10, imported=False),
    Column("revision", "版本", "导出专用,导入时忽略:报告的修订版本号。", 6, imported=False),
    Column("receipt_hash", "回执", "导出专用,导入时忽略:提交回执的 SHA-256。", 18, imported=False),
    Column("is_demo", "演示数据", "导出专用,导入时忽略:演示数据标注,非正式认定。", 20, imported=False),
)
COLUMN_BY_KEY = {column.key: column for column in COLUMNS}
IMPORT_KEYS = tuple(column.key for column in COLUMNS if column.imported)
_NUMERIC_KEYS = {"percent_complete", "kpi_actual", "investment_to_date"}
_CODE_KEYS = {"pilot_code", "subtask_code", "period", "version"}

_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_EXPORT_ONLY_FILL = PatternFill("solid", fgColor="E7E6E6")
_FORMULA_START = exports.FORMULA_START


@dataclass(frozen=True)
class SheetRow:
    """One data row of an uploaded sheet: its number as Excel shows it (header = 1), and its values."""

    number: int
    values: dict[str, Any]  # import key → str, Decimal or None

    @property
    def is_blank(self) -> bool:
        return all(self.values.get(key) in (None, "") for key in IMPORT_KEYS)


# --- Export -----------------------------------------------------------------------------------

def reports_to_rows(queryset) -> list[dict[str, Any]]:
    """One row per report, keyed by the column keys, values as stored (codes, Decimals, booleans)."""
    rows = []
    for report in queryset.select_related("pilot", "subtask"):
        rows.append({
            "pilot_code": report.pilot.code,
            "pilot_name": report.pilot.name_zh,
            "subtask_code": report.subtask.code,
            "period": report.period,
            "percent_complete": report.percent_complete,
            "status": report.status,
            "narrative": report.narrative,
            "kpi_actual": report.kpi_actual,
            "investment_to_date": report.investment_to_date,
            "decrease_reason": report.decrease_reason,
            "version": report.etag,
            "state": report.state,
            "revision": report.revision,
            "receipt_hash": report.receipt_hash,
            "is_demo": report.is_demo,
        })
    return rows


_TEXT_COLUMNS = frozenset(index for index, column in enumerate(COLUMNS) if column.text)


def _display(key: str, value: Any) -> Any:
    """A stored value as the sheet shows it: Chinese labels for codes, the demo label for demo rows."""
    if key == "status":
        return STATUS_ZH.get(value, value)
    if key == "state":
        return STATE_ZH.get(value, value)
    if key == "is_demo":
        return DEMO_LABEL["zh"] if value else None
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters a worksheet cannot hold
    return value


def write_xlsx(rows: Iterable[dict[str, Any]], *, pilots: Sequence[tuple[str, str, bool]] = (),
               subtasks: Sequence[tuple[str, str]] = ()) -> bytes:
    """The workbook: 「填报」 with the header and ``rows``, and 「说明」 describing every column.

    ``pilots`` (code, name, is_demo) and ``subtasks`` (code, name) are listed on the help sheet, so that
    a clerk filling in the template can look the codes up.
    """
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = DATA_SHEET
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        cell = sheet.cell(row=1, column=index, value=column.header)
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL if column.imported else _EXPORT_ONLY_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        note = f"{column.key}\n{column.help}"
        if column.required:
            note += "\n必填。"
        cell.comment = Comment(note, "smartcity-tracker", width=260, height=110)
        sheet.column_dimensions[letter].width = column.width
        if column.number_format:
            sheet.column_dimensions[letter].number_format = column.number_format  # for what the clerk types

    count = 0
    for count, row in enumerate(rows, start=1):
        for index, column in enumerate(COLUMNS, start=1):
            value = _display(column.key, row.get(column.key))
            cell = sheet.cell(row=count + 1, column=index, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text that starts with "=" stays text, never a formula
                if column.text:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
            elif column.number_format and value is not None:
                cell.number_format = column.number_format

    last = get_column_letter(len(COLUMNS))
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{last}{count + 1}"
    status_letter = get_column_letter(list(COLUMN_BY_KEY).index("status") + 1)
    choices = DataValidation(type="list", formula1='"' + ",".join(STATUS_ZH.values()) + '"', allow_blank=True,
                             showErrorMessage=False)  # a dropdown that still accepts the English codes
    choices.add(f"{status_letter}2:{status_letter}{MAX_ROWS + 1}")
    sheet.add_data_validation(choices)

    _write_help_sheet(workbook.create_sheet(HELP_SHEET), pilots=pilots, subtasks=subtasks)
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def _write_help_sheet(sheet, *, pilots, subtasks) -> None:
    bold = Font(bold=True)
    sheet.append(["填报说明 / How to fill in"])
    sheet["A1"].font = Font(bold=True, size=14)
    for line in (
        f"「{DATA_SHEET}」表每行一份报告:一个试点、一个子任务、一个季度。第 1 行是表头,请勿修改;从第 2 行起填写,空行会被跳过。",
        (f"灰色表头的列仅在导出时填写,导入时忽略。上传 .xlsx 或 .csv(UTF-8 或 GBK 编码),每次最多 {MAX_ROWS} 行、"
         f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB。"),
        "任何一行有错,整份文件都不会导入;错误会写明行号(与 Excel 左侧的行号一致)和列的机器键。",
        "One report per row; row 1 is the header. Errors name the row as Excel numbers it and the column key.",
    ):
        sheet.append([line])
    sheet.append([])

    def table(title: str, header: list[str], body: Iterable[list[Any]]) -> None:
        sheet.append([title])
        sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True, size=12)
        sheet.append(header)
        for cell in sheet[sheet.max_row]:
            cell.font = bold
            cell.fill = _HEADER_FILL
        for line in body:
            sheet.append(line)
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, str):
                    cell.data_type = "s"
        sheet.append([])

    table("列 / Columns", ["列名", "机器键 key", "导入", "必填", "说明"], (
        [c.header, c.key, "是" if c.imported else "否(忽略)", "是" if c.required else "", c.help] for c in COLUMNS
    ))
    table("状态取值 / status", ["中文", "代码 code"], ([label, code] for code, label in STATUS_ZH.items()))
    table("试点 / Pilots", ["试点代码", "试点名称", "备注"], (
        [code, name, DEMO_LABEL["zh"] if is_demo else ""] for code, name, is_demo in pilots
    ))
    table("子任务 / Sub-tasks", ["子任务代码", "名称"], ([code, name] for code, name in subtasks))
    for letter, width in zip("ABCDE", (22, 22, 12, 8, 70)):
        sheet.column_dimensions[letter].width = width


def write_csv(rows: Iterable[dict[str, Any]]) -> bytes:
    """The same columns as CSV, through the service's one CSV writer: free text that a spreadsheet would run
    as a formula gets a leading apostrophe, which ``read_rows`` removes again."""
    return exports.write_csv(
        [column.header for column in COLUMNS],
        ([_display(column.key, row.get(column.key)) for column in COLUMNS] for row in rows),
        text_columns=_TEXT_COLUMNS,
    )


# --- Import -----------------------------------------------------------------------------------

def read_rows(uploaded_file, filename: str) -> list[SheetRow]:
    """The non-blank data rows of an uploaded .xlsx or .csv, checked by extension and by content.

    Raises a ValidationError on ``file`` for a wrong type, a file over the limits, or a header row
    that is not this format's.
    """
    extension = PurePath(str(filename or "")).suffix.lower()
    if extension not in (".xlsx", ".csv"):
        raise ValidationError({"file": _(
            "Upload the report sheet as .xlsx (Excel 2007 or later) or .csv; %(ext)s files are not read.")
            % {"ext": extension or _("extensionless")}})
    data = _read_limited(uploaded_file)
    if not data:
        raise ValidationError({"file": _("The file is empty.")})
    table = _xlsx_table(data) if extension == ".xlsx" else _csv_table(data)
    try:
        header = next(table)
    except StopIteration:
        raise ValidationError({"file": _("The file is empty.")}) from None
    positions = _header_positions(header)

    rows: list[SheetRow] = []
    for number, cells in enumerate(table, start=2):
        if number > MAX_SHEET_ROWS:
            raise ValidationError({"file": _(
                "The sheet runs past row %(max)s; delete the empty rows below the reports.") % {"max": MAX_SHEET_ROWS}})
        values = {key: _cell(key, cells[index] if index < len(cells) else None, csv_text=extension == ".csv")
                  for key, index in positions.items()}
        row = SheetRow(number, values)
        if row.is_blank:
            continue
        rows.append(row)
        if len(rows) > MAX_ROWS:
            raise ValidationError({"file": _("A file may hold at most %(max)s reports; split it.") % {"max": MAX_ROWS}})
    return rows


def _read_limited(uploaded_file) -> bytes:
    too_big = ValidationError({"file": _("A file may be at most %(mb)s MB; split it.") % {
        "mb": MAX_UPLOAD_BYTES // (1024 * 1024)}})
    if isinstance(uploaded_file, bytes | bytearray):
        data = bytes(uploaded_file)
    else:
        if (getattr(uploaded_file, "size", None) or 0) > MAX_UPLOAD_BYTES:
            raise too_big
        uploaded_file.seek(0)
        data = uploaded_file.read(MAX_UPLOAD_BYTES + 1)
        uploaded_file.seek(0)
    if len(data) > MAX_UPLOAD_BYTES:
        raise too_big
    return data


def _xlsx_table(data: bytes):
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        entries = None
    names = {entry.filename for entry in entries or ()}
    if not entries or "[Content_Types].xml" not in names or not any(name.startswith("xl/") for name in names):
        hint = _(" It looks like an Excel 97-2003 .xls; save it as .xlsx.") if data.startswith(
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") else ""
        raise ValidationError({"file": _("The content is not an .xlsx workbook.") + hint})
    if sum(entry.file_size for entry in entries) > MAX_UNPACKED_BYTES:
        raise ValidationError({"file": _("The workbook unpacks to more than %(mb)s MB; it is not a report sheet.")
                               % {"mb": MAX_UNPACKED_BYTES // (1024 * 1024)}})
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001  openpyxl raises many kinds of error on a damaged workbook
        raise ValidationError({"file": _("The workbook cannot be read; open it in Excel and save it again.")}) \
            from None
    try:
        sheet = workbook[DATA_SHEET] if DATA_SHEET in workbook.sheetnames else workbook.worksheets[0]
        # Read-only mode stops at the rows the sheet's own <dimension> claims; WPS and other writers leave
        # it stale or at A1. Forget it and read every row: MAX_SHEET_ROWS (in read_rows) and
        # MAX_UNPACKED_BYTES bound what "every" can be.
        sheet.reset_dimensions()
        rows = sheet.iter_rows(max_col=MAX_COLUMNS)  # read-only mode parses the sheet's XML only now
        while True:
            try:
                cells = next(rows)
            except StopIteration:
                return
            except Exception:  # noqa: BLE001  a damaged sheet (bad XML, a NUL character reference…)
                raise ValidationError({"file": _(
                    "The workbook cannot be read; open it in Excel and save it again.")}) from None
            yield [_xlsx_value(cell) for cell in cells]
    finally:
        workbook.close()


def _xlsx_value(cell) -> Any:
    value = getattr(cell, "value", None)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and "%" in (getattr(cell, "number_format", "") or ""):
        return _Percent(value)  # 45% in Excel is stored as 0.45; the clerk means 45
    return value


class _Percent(float):
    """A number Excel shows as a percentage."""


def _csv_table(data: bytes):
    head = data[:8192]
    if b"\x00" in head or head.startswith((b"%PDF", b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"\x89PNG", b"\xff\xd8\xff")):
        raise ValidationError({"file": _("The content is not a CSV text file.")})
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in a Chinese locale saves CSV as GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValidationError({"file": _("The CSV file is neither UTF-8 nor GBK text.")})
    try:
        yield from csv.reader(io.StringIO(text, newline=""))
    except csv.Error as exc:
        raise ValidationError({"file": _("The CSV file cannot be read: %(error)s") % {"error": exc}}) from None


def _normalise_header(value: Any) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value or ""))).lower()


_HEADER_NAMES = {
    name: column.key
    for column in COLUMNS
    for name in (_normalise_header(column.header), _normalise_header(column.key))
}


def _header_positions(header: Sequence[Any]) -> dict[str, int]:
    """Import key → column index, from row 1 (Chinese headers or machine keys, in any order)."""
    positions: dict[str, int] = {}
    for index, value in enumerate(header):
        key = _HEADER_NAMES.get(_normalise_header(value))
        if key is None:
            continue  # a column of the clerk's own (notes, say) is left alone
        if key in positions:
            raise ValidationError({"file": _("Row 1 has the column %(name)s twice.") % {
                "name": f"{COLUMN_BY_KEY[key].header} ({key})"}})
        if COLUMN_BY_KEY[key].imported:
            positions[key] = index
    missing = [column for column in COLUMNS if column.required and column.key not in positions]
    if missing:
        raise ValidationError({"file": _(
            "Row 1 must be the header row of the report sheet; it lacks %(columns)s. Start from the template.") % {
            "columns": ", ".join(f"{column.header} ({column.key})" for column in missing)}})
    return positions


def _cell(key: str, value: Any, *, csv_text: bool) -> Any:
    """A cell as import reads it: text stripped, numbers as Decimal, blanks as None."""
    if isinstance(value, _Percent):
        number = _decimal(float(value))
        return _tidy(number * 100) if key == "percent_complete" and number is not None else _tidy(number)
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        number = _tidy(_decimal(value))
        if key in _NUMERIC_KEYS or number is None:
            return number
        return str(number)  # a code Excel took for a number: 510108.0 → "510108"
    text = str(value)
    if csv_text and COLUMN_BY_KEY[key].text and text[:1] == "'" and text[1:2] and text[1] in _FORMULA_START:
        text = text[1:]
    text = text.strip()
    if not text:
        return None
    if key in _NUMERIC_KEYS:
        cleaned = text.replace(",", "").replace(",", "")  # thousands separators
        if key == "percent_complete" and cleaned.endswith(("%", "%")):
            cleaned = cleaned[:-1].strip()
        number = _decimal(cleaned)
        return _tidy(number) if number is not None else cleaned  # not a number: the serializer says so
    if key in _CODE_KEYS:
        return unicodedata.normalize("NFKC", text).upper()  # full-width digits, 2021q3
    return text


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def _tidy(number: Decimal | None) -> Decimal | None:
    """Without the trailing zeros a number format adds: 45.50 is 45.5, 1250.00 is 1250."""
    if number is None:
        return None
    try:
        return number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()
    except InvalidOperation:  # too many digits to quantize: the serializer will refuse it
        return number


def parse_status(value: Any) -> Any:
    """The status code for a code, a Chinese label or an English label; anything else unchanged."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    lowered = text.lower().replace(" ", "_").replace("-", "_")
    for code, label in STATUS_ZH.items():
        if text == label or lowered == code:
            return code.value
    return text
