"""``manage.py bootstrap [--demo]``: load the shipped data and install the periodic schedules.

Safe to run on every deploy: each step creates only what is missing and never overwrites what the
provincial office has edited, so a second run creates nothing and writes no audit entries.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from pilots.models import Organisation
from pilots.services.demo import DEMO_PROGRAMME_CODE, demo_accounts_ensure, demo_pilots_ensure
from pilots.services.demo_progress import demo_completion_history, demo_progress_ensure
from pilots.services.registry import organisations_ensure, registry_load_pilots, registry_load_prefectures
from pilots.services.reminders import overdue_refresh, reminder_rules_ensure
from smartcity.audit import ChangeContext
from smartcity.calendar_seed import seed_calendar
from smartcity.models import CalendarDay, CalendarRevision, CalendarYear
from smartcity.schedules import schedules_install
from tasks_app.services import catalog_load_departments, catalog_load_programme

FIXTURES_DIR = Path(settings.BASE_DIR) / "fixtures"


def read_fixture(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fixture:
        return json.load(fixture)


class Command(BaseCommand):
    help = (
        "Load departments, prefectures, programmes and pilots; ensure organisations and periodic schedules. "
        "--demo adds demo sign-ins and demo pilots."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--demo", action="store_true",
            help="Also create demo sign-ins and demo pilots (flagged as demo data) up to the programme's goal.",
        )

    def handle(self, *args, demo: bool = False, **options):
        context = ChangeContext.command()
        departments = read_fixture(FIXTURES_DIR / "departments.json")
        self.step("部门 / departments", catalog_load_departments(data=departments, context=context))
        prefectures = read_fixture(FIXTURES_DIR / "prefectures.json")
        self.step("市(州) / prefectures", registry_load_prefectures(data=prefectures, context=context))
        for path in sorted((FIXTURES_DIR / "programmes").glob("*.json")):
            self.step(f"方案 / programme {path.name}", catalog_load_programme(data=read_fixture(path), context=context))
        for path in sorted((FIXTURES_DIR / "pilots").glob("*.json")):
            self.step(f"试点 / pilots {path.name}", registry_load_pilots(data=read_fixture(path), context=context))
        self.step("机构 / organisations", organisations_ensure(context=context))
        self.step("定时任务 / schedules", schedules_install(context=context))
        # The migrations seed the working-day calendar; an emptied database (manage.py flush) is seeded again.
        self.step("工作日历 / working-day calendar", {"days": seed_calendar(CalendarDay, CalendarYear, CalendarRevision)})
        self.step("提醒规则 / reminder rules", reminder_rules_ensure(context=context))
        if demo:
            self.load_demo(context)
        # The pages and /overdue/ read the stored list: compute it now rather than at the first sweep.
        self.stdout.write(f"逾期清单 / overdue list: 已计算 / computed {overdue_refresh()}")

    def load_demo(self, context: ChangeContext) -> None:
        password = settings.DEMO_PASSWORD
        self.step("演示账号 / demo accounts", demo_accounts_ensure(password=password, context=context))
        self.step(f"演示试点 / demo pilots ({DEMO_PROGRAMME_CODE})", demo_pilots_ensure(context=context))
        self.step("演示进展 / demo plans and reports", demo_progress_ensure())
        self.step("完成率 / completion snapshots", demo_completion_history())
        offices = Organisation.objects.filter(kind=Organisation.Kind.PREFECTURE).select_related("prefecture")
        reporters = ", ".join(f"pref-{office.prefecture.code}" for office in offices)
        self.stdout.write(
            "演示登录 / demo logins (new accounts get this password, existing ones keep theirs: "
            f"{password}):\n"
            "  province   — 省经济和信息化厅 审核 / provincial reviewer\n"
            "  viewer     — 省级只读 / provincial viewer\n"
            "  integrator — 演示集成系统 / demo integrator (API only)\n"
            f"  {reporters} — 市(州)填报 / prefecture reporters"
        )
        self.stdout.write(
            self.style.WARNING("演示试点均为演示数据,非正式认定 / demo pilots are demo data, not official designations.")
        )

    def step(self, label: str, counts: dict[str, int]) -> None:
        created = ", ".join(f"{name} {count}" for name, count in counts.items())
        self.stdout.write(f"{label}: 已创建 / created {created}")
