"""The shipped Word template of the quarterly bulletin, built by code (python-docx) with docxtpl tags.

The office downloads it (``manage.py bulletin_template`` or ``GET /api/v1/bulletins/template/``), edits
it in Word (letterhead, wording, fonts) keeping the ``{{ … }}`` and ``{%tr … %}`` tags it needs, and
uploads it (``POST /api/v1/bulletins/templates/``, or the admin). The variables a template may use are
those of ``pilots.services.bulletins.document.template_context``.
"""

from __future__ import annotations

import io

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

BODY_FONT = "Noto Serif CJK SC"  # fonts-noto-cjk; an office template may name 仿宋_GB2312 instead
HEADING_FONT = "Noto Sans CJK SC"


def _east_asian(run_or_style, name: str) -> None:
    run_or_style.font.name = name
    rpr = run_or_style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    for attribute in ("w:eastAsia", "w:ascii", "w:hAnsi"):
        fonts.set(qn(attribute), name)


def _paragraph(document, text: str, *, size: float = 14, bold: bool = False, center: bool = False,
               font: str = BODY_FONT, color: RGBColor | None = None, indent: bool = False):
    paragraph = document.add_paragraph()
    if center:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if indent:
        paragraph.paragraph_format.first_line_indent = Pt(size * 2)
    run = paragraph.add_run(text)
    run.font.size = Pt(size)
    run.bold = bold
    if color is not None:
        run.font.color.rgb = color
    _east_asian(run, font)
    return paragraph


def _table(document, headers: list[str], loop: str, cells: list[str], widths: list[float]) -> None:
    """A table with a header row and one row repeated by docxtpl (``{%tr for … %}`` … ``{%tr endfor %}``);
    ``widths`` in millimetres (the name columns wide enough for a prefecture's full name)."""
    table = document.add_table(rows=4, cols=len(headers))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Mm(width)  # the grid, which LibreOffice reads
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=True):
            cell.width = Mm(width)
    header_row = table.rows[0]._tr.get_or_add_trPr()
    for tag in ("w:tblHeader", "w:cantSplit"):  # repeated on each page, never split across two
        element = OxmlElement(tag)
        element.set(qn("w:val"), "true")
        header_row.append(element)
    for column, header in enumerate(headers):
        cell = table.rows[0].cells[column]
        cell.text = header
        for run in cell.paragraphs[0].runs:
            run.bold = True
            run.font.size = Pt(10.5)
            _east_asian(run, HEADING_FONT)
    table.rows[1].cells[0].text = "{%tr " + loop + " %}"
    for column, text in enumerate(cells):
        cell = table.rows[2].cells[column]
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.font.size = Pt(10.5)
            _east_asian(run, BODY_FONT)
    table.rows[3].cells[0].text = "{%tr endfor %}"


def default_template() -> bytes:
    """The shipped template as .docx bytes."""
    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    _east_asian(document.styles["Normal"], BODY_FONT)
    document.styles["Normal"].font.size = Pt(14)

    red = RGBColor(0xC0, 0x00, 0x00)
    _paragraph(document, "{{ issuer }}", size=22, bold=True, center=True, font=HEADING_FONT, color=red)
    _paragraph(document, "{{ document_number }}", size=14, center=True)
    _paragraph(document, "{% if demo_label %}【{{ demo_label }}】本通报含演示数据,演示数据不是正式认定,"
               "不得作为事实引用。{% endif %}", size=12, bold=True, center=True, color=red)
    _paragraph(document, "{{ title }}", size=20, bold=True, center=True, font=HEADING_FONT)
    _paragraph(document, "{{ addressee }}:")
    _paragraph(document, "{{ opening }}", indent=True)

    _paragraph(document, "一、报送情况", bold=True, font=HEADING_FONT)
    _paragraph(document, "{{ summary.reporting }}", indent=True)
    _table(document, ["排名", "市(州)", "应报(份)", "按时报送(份)", "按时报送率", "已报送(份)"],
           "for r in reporting_rows",
           ["{{ r.reporting_rank }}", "{{ r.name }}", "{{ r.expected }}", "{{ r.on_time }}",
            "{{ r.on_time_rate_text }}", "{{ r.received }}"], [12, 52, 22, 28, 24, 18])
    _paragraph(document, "{{ chart_reporting }}", center=True)

    _paragraph(document, "二、建设完成情况", bold=True, font=HEADING_FONT)
    _paragraph(document, "{{ summary.completion }}", indent=True)
    _table(document, ["排名", "市(州)", "试点(个)", "完成率", "计划进度", "偏差(百分点)", "滞后子任务"],
           "for r in completion_rows",
           ["{{ r.rank_text }}", "{{ r.name }}{{ r.demo_mark }}", "{{ r.pilot_count }}", "{{ r.completion_text }}",
            "{{ r.planned_text }}", "{{ r.variance_text }}", "{{ r.behind_count }}"], [12, 50, 16, 20, 20, 18, 20])
    _paragraph(document, "{{ chart_completion }}", center=True)

    _paragraph(document, "三、进度滞后的试点", bold=True, font=HEADING_FONT)
    _paragraph(document, "{{ summary.behind }}", indent=True)
    _table(document, ["试点", "所属市(州)", "完成率", "计划进度", "偏差(百分点)", "状态"],
           "for r in behind_rows",
           ["{{ r.name }}{{ r.demo_mark }}", "{{ r.prefecture }}", "{{ r.completion_text }}", "{{ r.planned_text }}",
            "{{ r.variance_text }}", "{{ r.status_text }}"], [36, 44, 18, 20, 18, 20])

    _paragraph(document, "四、逾期事项", bold=True, font=HEADING_FONT)
    _paragraph(document, "{{ summary.overdue }}", indent=True)
    _table(document, ["试点", "子任务", "事项", "应完成日期", "等级"],
           "for r in overdue_rows",
           ["{{ r.pilot }}{{ r.demo_mark }}", "{{ r.subtask }}", "{{ r.kind_text }}", "{{ r.due_on }}",
            "{{ r.level_text }}"], [34, 52, 38, 18, 14])

    _paragraph(document, "五、下一步工作要求", bold=True, font=HEADING_FONT)
    _paragraph(document, "{{ requirements }}", indent=True)

    _paragraph(document, "")
    right = _paragraph(document, "{{ issuer }}")
    right.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    right = _paragraph(document, "{{ issued_on_text }}")
    right.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _paragraph(document, "(本通报数据截至{{ as_of_text }},由系统根据各地报送数据生成。{{ data_note }})", size=10.5)

    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
