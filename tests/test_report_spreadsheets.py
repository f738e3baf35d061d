"""The report spreadsheet, both ways: what a clerk sees in Excel, and what import reads back."""

import csv
import io
from decimal import Decimal

import pytest
from django.utils import translation
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from pilots.services.spreadsheets import (
    COLUMNS,
    IMPORT_KEYS,
    MAX_ROWS,
    MAX_UPLOAD_BYTES,
    parse_status,
    read_rows,
    write_csv,
    write_xlsx,
)

HEADERS = [column.header for column in COLUMNS]
KEYS = [column.key for column in COLUMNS]
REPORT = {
    "pilot_code": "510108", "pilot_name": "成都市成华区", "subtask_code": "T4.1", "period": "2021Q3",
    "percent_complete": Decimal("45.5"), "status": "at_risk", "narrative": "=HYPERLINK(\"x\") 供应商延期,\n已约谈。",
    "kpi_actual": Decimal("-3.25"), "investment_to_date": Decimal("1234567.89"), "decrease_reason": "- 口径调整",
    "version": "\"41.3\"",
    "state": "submitted", "revision": 2, "receipt_hash": "ab" * 32, "is_demo": True,
}
IMPORTED = {key: REPORT[key] for key in IMPORT_KEYS}


def xlsx(rows, header=HEADERS, title="填报"):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    sheet.append(header)
    for values in rows:
        sheet.append(values)
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def file_errors(excinfo) -> list[str]:
    return excinfo.value.message_dict["file"]


# --- What the clerk sees ----------------------------------------------------------------------

def test_the_workbook_has_one_chinese_header_row_frozen_with_keys_in_comments_and_a_help_sheet():
    workbook = load_workbook(io.BytesIO(write_xlsx([REPORT], pilots=[("510108", "成都市成华区", False),
                                                                     ("519901", "演示县", True)],
                                                   subtasks=[("T4.1", "优化“互联网+政务服务”")])))
    sheet = workbook["填报"]

    assert workbook.sheetnames == ["填报", "说明"]
    assert [cell.value for cell in sheet[1]] == HEADERS
    assert HEADERS[:4] == ["试点代码", "试点名称", "子任务代码", "报告期"] and "累计投资(万元)" in HEADERS
    assert sheet.freeze_panes == "A2"
    assert [cell.comment.text.split("\n")[0] for cell in sheet[1]] == KEYS
    assert sheet.max_row == 2 and sheet["A2"].value == "510108"
    assert all(sheet.column_dimensions[letter].width >= 6 for letter in "ABCDEFGHIJKLMN")
    assert sheet.column_dimensions["G"].width > sheet.column_dimensions["A"].width  # narrative is wide
    help_cells = [cell.value for line in workbook["说明"].iter_rows() for cell in line if cell.value]
    assert set(KEYS) <= set(help_cells)
    assert {"510108", "519901", "T4.1", "按计划推进", "on_track", "演示数据,非正式认定"} <= set(help_cells)


def test_exported_values_are_labelled_for_people():
    sheet = load_workbook(io.BytesIO(write_xlsx([REPORT])))["填报"]
    values = dict(zip(KEYS, [cell.value for cell in sheet[2]]))

    assert (values["status"], values["state"], values["is_demo"]) == ("存在风险", "已提交", "演示数据,非正式认定")
    assert values["percent_complete"] == 45.5 and sheet["E2"].number_format == "0.0"
    assert values["narrative"] == REPORT["narrative"] and sheet["G2"].data_type == "s"  # text, never a formula


def test_a_control_character_pasted_from_word_does_not_break_the_export():
    sheet = load_workbook(io.BytesIO(write_xlsx([REPORT | {"narrative": "第一段\x0b第二段"}])))["填报"]

    assert sheet["G2"].value == "第一段第二段"


def test_the_csv_has_a_bom_chinese_headers_and_guards_formulas():
    content = write_csv([REPORT])

    assert content.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert lines[0] == HEADERS
    values = dict(zip(KEYS, lines[1]))
    assert values["narrative"].startswith("'=HYPERLINK") and values["decrease_reason"] == "'- 口径调整"
    assert values["kpi_actual"] == "-3.25"  # numbers are not text: no guard


# --- Reading it back ---------------------------------------------------------------------------

@pytest.mark.parametrize("writer, name", [(write_xlsx, "reports.xlsx"), (write_csv, "reports.csv")])
def test_what_is_written_reads_back_unchanged(writer, name):
    rows = read_rows(SimpleUploadedFile(name, writer([REPORT, REPORT | {"subtask_code": "T4.2"}])), name)

    assert [row.number for row in rows] == [2, 3]
    values = rows[0].values
    assert values | {"status": parse_status(values["status"])} == IMPORTED


def test_the_header_may_use_machine_keys_any_order_full_width_brackets_and_extra_columns():
    header = ["备注", "period", "subtask_code", "试点代码", "完成百分比", "状态", "累计投资(万元)"]
    rows = read_rows(xlsx([["自己的备注", "2021q3", "t4.1", 510108, 45, "on_track", "1,250.00"]], header=header),
                     "a.xlsx")

    assert rows[0].values == {"period": "2021Q3", "subtask_code": "T4.1", "pilot_code": "510108",
                              "percent_complete": Decimal(45), "status": "on_track",
                              "investment_to_date": Decimal(1250)}


def test_blank_rows_are_skipped_but_keep_their_numbers():
    rows = read_rows(xlsx([["510108", None, "T4.1", "2021Q3", 45, "按计划推进"], [], [None, "只有名称"],
                           ["510108", None, "T4.2", "2021Q3", 50, "按计划推进"]]), "a.xlsx")

    assert [row.number for row in rows] == [2, 5]


def test_a_percent_formatted_cell_means_what_excel_shows():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADERS)
    sheet.append(["510108", None, "T4.1", "2021Q3", 0.455, "按计划推进"])
    sheet["E2"].number_format = "0.0%"
    output = io.BytesIO()
    workbook.save(output)

    assert str(read_rows(output.getvalue(), "a.xlsx")[0].values["percent_complete"]) == "45.5"


def test_numbers_formatted_by_excel_read_as_the_numbers_they_are():
    content = ",".join(HEADERS[:9]) + '\n510108,,T4.1,2021Q3,45.50%,按计划推进,,"1,000",0012.30\n'

    values = read_rows(content.encode(), "a.csv")[0].values

    assert [str(values[k]) for k in ("percent_complete", "kpi_actual", "investment_to_date")] == ["45.5", "1000", "12.3"]


def test_a_gbk_csv_saved_by_a_chinese_excel_is_read():
    content = ("试点代码,子任务代码,报告期,完成百分比,状态,进展说明\r\n"
               "510108,T4.1,2021Q3,45,按计划推进,平台上线\r\n").encode("gbk")

    rows = read_rows(content, "报表.CSV")

    assert rows[0].values["narrative"] == "平台上线" and rows[0].values["status"] == "按计划推进"


def test_a_data_sheet_after_other_sheets_is_found_by_its_name():
    workbook = Workbook()
    workbook.active.title = "封面"
    workbook.active.append(["四川省新型智慧城市试点进展"])
    data = workbook.create_sheet("填报")
    data.append(HEADERS)
    data.append(["510108", None, "T4.1", "2021Q3", 45, "按计划推进"])
    output = io.BytesIO()
    workbook.save(output)

    assert read_rows(output.getvalue(), "a.xlsx")[0].values["subtask_code"] == "T4.1"


@pytest.mark.parametrize("text, code", [("按计划推进", "on_track"), ("on_track", "on_track"), ("On track", "on_track"),
                                        (" 已完成 ", "completed"), ("at-risk", "at_risk"), ("完成了", "完成了")])
def test_status_takes_the_chinese_label_or_the_code(text, code):
    assert parse_status(text) == code


# --- What is refused, always on `file` --------------------------------------------------------

@pytest.mark.parametrize("name, content, says", [
    ("a.pdf", b"%PDF-1.7", ".xlsx"),
    ("a", b"whatever", ".xlsx"),
    ("a.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ".xlsx"),
    ("a.xlsx", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "not an .xlsx"),
    ("a.xlsx", "试点代码,子任务代码\n".encode(), "not an .xlsx"),
    ("a.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "Excel 97-2003"),
    ("a.csv", b"%PDF-1.7\n", "not a CSV"),
    ("a.csv", b"PK\x03\x04zipped", "not a CSV"),
    ("a.xlsx", b"", "empty"),
    ("a.csv", "报告\n写点什么\n".encode(), "Row 1 must be the header row"),
])
def test_a_file_that_is_not_a_report_sheet_is_refused_on_file(name, content, says):
    with pytest.raises(ValidationError) as excinfo, translation.override("en"):
        read_rows(content, name)

    assert set(excinfo.value.message_dict) == {"file"}
    assert says in file_errors(excinfo)[0]


def test_a_header_missing_a_required_column_names_it():
    with pytest.raises(ValidationError) as excinfo:
        read_rows(xlsx([], header=["试点代码", "子任务代码", "报告期", "状态"]), "a.xlsx")

    assert "完成百分比 (percent_complete)" in file_errors(excinfo)[0]


def test_a_column_twice_is_refused():
    with pytest.raises(ValidationError) as excinfo:
        read_rows(xlsx([], header=[*HEADERS, "status"]), "a.xlsx")

    assert "状态 (status)" in file_errors(excinfo)[0]


def test_at_most_five_thousand_rows():
    line = "510108,,T4.1,2021Q3,45,按计划推进\n"
    fits = ",".join(HEADERS) + "\n" + line * MAX_ROWS

    assert len(read_rows(fits.encode(), "a.csv")) == MAX_ROWS
    with pytest.raises(ValidationError) as excinfo:
        read_rows((fits + line).encode(), "a.csv")
    assert "5000" in file_errors(excinfo)[0]


def test_at_most_five_megabytes():
    big = SimpleUploadedFile("a.csv", b"x" * (MAX_UPLOAD_BYTES + 1))

    with pytest.raises(ValidationError) as excinfo:
        read_rows(big, big.name)
    assert "5 MB" in file_errors(excinfo)[0]
