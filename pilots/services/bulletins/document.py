"""The bulletin's Word file (docxtpl) and its PDF (LibreOffice headless), from the stored figures."""

from __future__ import annotations

import datetime as dt
import io
import shutil
# subprocess: soffice with a fixed argument list, never a shell
import subprocess  # nosec B404
import tempfile
from decimal import Decimal
from pathlib import Path

from docxtpl import DocxTemplate, InlineImage
from docx.shared import Mm
from django.utils import translation

from pilots.labels import DEMO_LABEL
from pilots.models import ReminderKind, ReminderLevel, ScheduleStatus
from pilots.services.bulletins import charts
from pilots.services.bulletins.template import default_template

DEMO_MARK = "[演示]"
OVERDUE_ROWS = 30  # the document lists the most urgent items; the figures keep them all, the system lists the rest
CONVERT_TIMEOUT = 300  # seconds; a first start of LibreOffice with a fresh profile takes a while


class BulletinRenderError(RuntimeError):
    pass


def _cn_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _pct(value: str | None) -> str:
    return "—" if value is None else f"{value}%"


def _signed(value: str | None) -> str:
    if value is None:
        return "—"
    return f"+{value}" if Decimal(value) > 0 else value


def _quoted(title: str) -> str:
    return title if title.startswith("《") else f"《{title}》"


def _names(rows: list[dict]) -> str:
    return "、".join(row["name"] for row in rows)


def summary_sentences(figures: dict) -> dict[str, str]:
    """The sentences the bulletin opens each section with, generated from the figures."""
    province = figures["province"]
    year, quarter = figures["year"], figures["quarter"]
    as_of = _cn_date(dt.date.fromisoformat(figures["as_of"]))
    deadline = _cn_date(dt.date.fromisoformat(figures["deadline"]))
    if province["expected"]:
        reporting = (f"{year}年第{quarter}季度,全省应报 {province['expected']} 份,按时报送 {province['on_time']} 份,"
                     f"按时报送率 {province['on_time_rate']}%(报送截止日期{deadline});截至{as_of},"
                     f"已报送 {province['received']} 份,报送率 {province['received_rate']}%。")
        reporting_rows = [p for p in figures["prefectures"] if p["expected"]]
        full = [p for p in reporting_rows if p["on_time"] == p["expected"]]
        lowest = sorted(reporting_rows, key=lambda p: (Decimal(p["on_time_rate"]), p["code"]))[:3]
        if full:
            reporting += f"{_names(full)}全部按时报送。"
        if lowest and Decimal(lowest[0]["on_time_rate"]) < 100:
            reporting += f"按时报送率较低的是{_names([p for p in lowest if Decimal(p['on_time_rate']) < 100])}。"
    else:
        reporting = f"{year}年第{quarter}季度无应报的进展报告。"
    if province["completion"] is not None:
        completion = (f"截至{as_of},全省 {province['pilot_count']} 个试点平均完成率 {province['completion']}%")
        if province["planned"] is not None:
            completion += f",计划进度 {province['planned']}%,偏差 {_signed(province['variance'])} 个百分点"
        completion += (f";{province['behind_count']} 项子任务进度滞后,其中 {province['critical_count']} 项严重滞后,"
                       f"{province['no_report_count']} 项尚无审核通过的报告。")
        top = [p for p in figures["prefectures"] if p["rank"] is not None and p["rank"] <= 3]
        if top:
            completion += f"完成率位居前列的是{_names(sorted(top, key=lambda p: (p['rank'], p['code'])))}。"
    else:
        completion = f"截至{as_of},尚无可计算完成率的试点。"
    behind = (f"截至{as_of},{len(figures['behind'])} 个试点进度滞后于计划,"
              f"其中 {sum(r['schedule_status'] == 'critical' for r in figures['behind'])} 个严重滞后。"
              if figures["behind"] else f"截至{as_of},没有进度滞后于计划的试点。")
    count = len(figures["overdue"])
    # The overdue list is kept for the present only: say which day it is from when that is not the figures' date.
    computed = figures.get("overdue_computed_at")
    listed = _cn_date(dt.datetime.fromisoformat(computed).date()) if computed else as_of
    overdue = f"截至{listed},逾期清单共 {count} 项" if count else f"截至{listed},逾期清单无逾期事项。"
    if count > OVERDUE_ROWS:
        overdue += f",下表列出最紧急的 {OVERDUE_ROWS} 项,完整清单见系统逾期清单"
    if count:
        overdue += ",请相关市(州)督促整改。"
    return {"reporting": reporting, "completion": completion, "behind": behind, "overdue": overdue}


def template_context(*, figures: dict, bulletin, document: DocxTemplate) -> dict:
    """Everything a bulletin template may use."""
    year, quarter = figures["year"], figures["quarter"]
    demo = figures["includes_demo"]
    with translation.override("zh-hans"):
        statuses = {value: str(label) for value, label in ScheduleStatus.choices}
        kinds = {value: str(label) for value, label in ReminderKind.choices}
        levels = {value: str(label) for value, label in ReminderLevel.choices}
    prefectures = [dict(p) for p in figures["prefectures"]]
    for row in prefectures:
        row.update(completion_text=_pct(row["completion"]), planned_text=_pct(row["planned"]),
                   variance_text=_signed(row["variance"]), on_time_rate_text=_pct(row["on_time_rate"]),
                   rank_text=row["rank"] if row["rank"] is not None else "—",
                   demo_mark=DEMO_MARK if row["includes_demo"] else "")
    reporting_rows = sorted((p for p in prefectures if p["expected"]),
                            key=lambda p: (-Decimal(p["on_time_rate"]), p["code"]))
    previous, rank = None, 0
    for position, row in enumerate(reporting_rows, start=1):
        if row["on_time_rate"] != previous:
            rank, previous = position, row["on_time_rate"]
        row["reporting_rank"] = rank
    completion_rows = sorted(prefectures, key=lambda p: (p["rank"] is None, p["rank"] or 0, p["code"]))
    behind_rows = [dict(r, completion_text=_pct(r["completion"]), planned_text=_pct(r["planned"]),
                        variance_text=_signed(r["variance"]), status_text=statuses.get(r["schedule_status"], ""),
                        demo_mark=DEMO_MARK if r["is_demo"] else "") for r in figures["behind"]]
    overdue_rows = [dict(r, subtask=f"{r['subtask']} {r['subtask_name']}", kind_text=kinds.get(r["kind"], r["kind"]),
                         level_text=levels.get(r["level"], r["level"]),
                         demo_mark=DEMO_MARK if r["is_demo"] else "") for r in figures["overdue"][:OVERDUE_ROWS]]
    issued_on = (bulletin.published_at.date() if bulletin.published_at else dt.date.fromisoformat(figures["as_of"]))
    data_note = "标注“[演示]”的为演示数据,不是正式认定。" if demo else ""
    if figures["real_only"]:
        data_note += "本通报仅含真实数据,不含演示试点和演示报告。"
    return {
        "issuer": bulletin.issuer or "四川省经济和信息化厅",
        "document_number": bulletin.document_number,
        "title": f"关于{year}年第{quarter}季度新型智慧城市试点示范建设进展情况的通报",
        "addressee": "各市(州)新型智慧城市建设牵头部门",
        "opening": (f"根据{_quoted(figures['programme_title'])}({figures['programme_document_number']})和试点示范管理有关"
                    f"要求,现将{year}年第{quarter}季度全省新型智慧城市试点示范建设进展情况通报如下。"),
        "demo_label": DEMO_LABEL["zh"] if demo else "",
        "summary": summary_sentences(figures),
        "reporting_rows": reporting_rows,
        "completion_rows": completion_rows,
        "behind_rows": behind_rows,
        "overdue_rows": overdue_rows,
        "chart_reporting": InlineImage(document, io.BytesIO(charts.reporting_chart(figures["prefectures"])),
                                       width=Mm(150)),
        "chart_completion": InlineImage(document, io.BytesIO(charts.completion_chart(figures["prefectures"])),
                                        width=Mm(150)),
        "requirements": ("请各市(州)对照本通报,督促按时报送率偏低、进度滞后和存在逾期事项的试点查找原因、"
                         "制定措施、限期整改,并于下一季度报送截止日期前报送整改情况。"),
        "issued_on_text": _cn_date(issued_on),
        "as_of_text": _cn_date(dt.date.fromisoformat(figures["as_of"])),
        "data_note": data_note,
        "figures": figures,
    }


def render_docx(*, figures: dict, bulletin, template_bytes: bytes | None = None) -> bytes:
    """The bulletin as .docx bytes, from the office's template (or the shipped one)."""
    document = DocxTemplate(io.BytesIO(template_bytes or default_template()))
    try:
        document.render(template_context(figures=figures, bulletin=bulletin, document=document), autoescape=True)
    except charts.ChartFontMissing:
        raise
    except Exception as exc:  # a Jinja error in an uploaded template: say so, with the template's message
        raise BulletinRenderError(f"The bulletin template could not be filled in: {type(exc).__name__}: {exc}") from exc
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def soffice_path() -> str:
    path = shutil.which("soffice") or shutil.which("libreoffice")
    if path is None:
        raise BulletinRenderError("LibreOffice (soffice) is not installed: install libreoffice-writer-nogui to "
                                  "convert bulletins to PDF.")
    return path


def docx_to_pdf(docx: bytes) -> bytes:
    """The PDF LibreOffice makes of ``docx``, with a private profile so that conversions never share one."""
    with tempfile.TemporaryDirectory(prefix="bulletin-") as workdir:
        work = Path(workdir)
        source = work / "bulletin.docx"
        source.write_bytes(docx)
        profile = work / "profile"
        result = subprocess.run(  # nosec B603
            [soffice_path(), "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}",
             "--convert-to", "pdf", "--outdir", str(work), str(source)],
            capture_output=True, text=True, timeout=CONVERT_TIMEOUT, stdin=subprocess.DEVNULL, check=False)
        target = work / "bulletin.pdf"
        if result.returncode != 0 or not target.exists():
            raise BulletinRenderError(f"LibreOffice could not convert the bulletin to PDF (exit {result.returncode}): "
                                      f"{(result.stderr or result.stdout).strip()[:500]}")
        return target.read_bytes()
