"""The dashboard and documentation pages as their readers meet them, in headless Chromium.

An accessibility audit (axe-core, from npm) on every dashboard page in both languages; no request
leaves the service (no CDN, no web font: the service's networks have no internet); English readers
get English names; demo data is labelled wherever it is counted; a forecast never says "done today";
history charts put dates on a time axis.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command

from pilots.dashboard.browser import chromium, chromium_available, sign_in, wait_loaded
from pilots.models import CompletionRollup, Pilot, Prefecture

from tests.helpers import missing_tool

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = os.environ.get("DEMO_PASSWORD", "demo-pass-2020")
AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
# The audit's rules: WCAG 2.0/2.1 A and AA, and axe's best practices.
AXE_RUN = """() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                                                    'best-practice']}})
    .then(result => result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target)})))"""
AXIS_TYPES = """id => {
    const option = window.echarts.getInstanceByDom(document.getElementById(id)).getOption();
    return {axis: option.xAxis[0].type, first: option.series[0].data[0]};
}"""


@pytest.fixture
def tools(transactional_db):
    missing = [what for what, present in (("/usr/bin/chromium (apt-get install -y chromium)", chromium_available()),
                                          ("node_modules/axe-core (make install runs npm ci)", AXE.exists()))
               if not present]
    if missing:
        missing_tool(f"missing {', '.join(missing)}")


@pytest.fixture
def demo(tools):
    call_command("bootstrap", "--demo", verbosity=0)
    call_command("recompute_completion", verbosity=0)


@pytest.fixture
def browser(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium() as browser:
        yield browser


class Visitor:
    """One browser context: every request it makes is recorded, every script error kept."""

    def __init__(self, browser, live_server, locale):
        self.base = live_server.url
        self.context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.requests, self.errors = [], []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def outside(self) -> list[str]:
        """Requests to anywhere but the test server (data: and blob: URLs stay in the page)."""
        own = urlsplit(self.base).netloc
        return [url for url in self.requests
                if urlsplit(url).scheme not in {"data", "blob", "about"} and urlsplit(url).netloc != own]

    def audit(self) -> list[dict]:
        # Evaluated through the DevTools protocol, which the page's strict CSP does not govern: a <script>
        # tag would be refused by script-src 'self', and the audit must not weaken the policy it audits.
        self.page.evaluate(AXE.read_text(encoding="utf-8"))
        return self.page.evaluate(AXE_RUN)

    def open(self, path):
        self.page.goto(f"{self.base}{path}")
        wait_loaded(self.page)


def _pages():
    prefecture = Prefecture.objects.get(code="510100")
    behind = (CompletionRollup.objects.filter(scope=CompletionRollup.Scope.PILOT, real_only=False,
                                              forecast_status="behind_trend")
              .order_by("-as_of", "pilot_id").first())
    pilot = Pilot.objects.get(pk=behind.pilot_id) if behind else Pilot.objects.order_by("pk").first()
    return prefecture, pilot, behind


def test_every_dashboard_page_passes_the_accessibility_audit_and_stays_inside_the_service(demo, browser,
                                                                                          live_server):
    prefecture, pilot, _behind = _pages()
    visitor = Visitor(browser, live_server, "zh-CN")
    page = visitor.page

    page.goto(f"{live_server.url}/accounts/login/")
    assert visitor.audit() == [], "sign-in page"
    sign_in(page, live_server.url, "province", PASSWORD)
    assert visitor.audit() == [], "overview"
    for path in (f"/dashboard/prefectures/{prefecture.code}/", f"/dashboard/pilots/{pilot.pk}/",
                 "/dashboard/?real_only=true"):
        visitor.open(path)
        assert visitor.audit() == [], path

    page.click("button[name=language][value=en]")  # English, on the page that was open
    wait_loaded(page)
    assert page.locator("html").get_attribute("lang") == "en"
    assert visitor.audit() == [], "overview in English"
    for path in (f"/dashboard/prefectures/{prefecture.code}/", f"/dashboard/pilots/{pilot.pk}/"):
        visitor.open(path)
        assert visitor.audit() == [], f"{path} in English"

    assert visitor.outside() == []
    assert visitor.errors == []


@pytest.mark.parametrize("path, ready", [("/api/docs/", ".swagger-ui .info .title"),
                                         ("/api/redoc/", "redoc h1, [role=search], .api-content h1")])
def test_the_documentation_pages_make_no_request_outside_the_service(tools, browser, live_server, path, ready):
    visitor = Visitor(browser, live_server, "zh-CN")
    visitor.page.goto(f"{live_server.url}{path}")
    visitor.page.wait_for_selector(ready, timeout=60_000)
    visitor.page.wait_for_load_state("networkidle")

    assert any(url.endswith("/api/schema/") for url in visitor.requests)
    assert visitor.outside() == []


def test_an_english_reader_gets_english_names_in_headings_and_breadcrumbs(demo, browser, live_server):
    prefecture, pilot, _behind = _pages()
    visitor = Visitor(browser, live_server, "en-GB")
    page = visitor.page
    sign_in(page, live_server.url, "province", PASSWORD, next_path=f"/dashboard/prefectures/{prefecture.code}/")

    assert page.locator("html").get_attribute("lang") == "en"  # from the browser's Accept-Language
    assert page.text_content("h1").startswith(prefecture.name_en)
    assert prefecture.name_zh not in page.text_content(".crumbs")
    assert prefecture.name_en in page.title()
    visitor.open(f"/dashboard/pilots/{pilot.pk}/")
    assert page.text_content("h1").strip().startswith(pilot.name_en)
    crumbs = page.text_content(".crumbs")
    assert pilot.prefecture.name_en in crumbs and pilot.name_en in crumbs
    assert pilot.name_zh not in crumbs and pilot.prefecture.name_zh not in crumbs
    assert visitor.errors == []


def test_every_figure_that_includes_demo_data_says_so(demo, browser, live_server):
    visitor = Visitor(browser, live_server, "zh-CN")
    page = visitor.page
    sign_in(page, live_server.url, "province", PASSWORD)

    # The headline card: real pilots against the goal, the demo pilots beside it and labelled.
    goal = page.text_content("#goal-kpis")
    real = Pilot.objects.filter(is_demo=False).count()
    demo_pilots = Pilot.objects.filter(is_demo=True).count()
    assert demo_pilots > 0 and f"{real} / 30" in goal and f"{real + demo_pilots} / 30" not in goal
    assert f"{demo_pilots}演示试点(不计入目标)" in goal
    assert page.locator("#goal-kpis .kpi:has(.badge.demo)").count() >= 1
    # Charts and tables that include demo data say so in words.
    for chart in ("chart-prefectures", "chart-tasks", "chart-departments", "chart-province-history",
                  "chart-heatmap"):
        assert "含演示数据" in page.text_content(f"#{chart}-demo"), chart
    assert page.locator("#chart-prefectures-table .badge.demo").count() >= 1
    # Without demo data, nothing is labelled as including it.
    visitor.open("/dashboard/?real_only=true")
    assert page.locator(".demo-note").count() == 0
    assert f"{real} / 30" in page.text_content("#goal-kpis")
    assert visitor.errors == []


def test_a_pilot_behind_its_own_trend_is_not_shown_as_done_today(demo, browser, live_server):
    _prefecture, pilot, behind = _pages()
    assert behind is not None, "the demo data has a pilot whose trend passed 100 before its figure did"
    visitor = Visitor(browser, live_server, "zh-CN")
    sign_in(visitor.page, live_server.url, "province", PASSWORD, next_path=f"/dashboard/pilots/{pilot.pk}/")

    kpis = visitor.page.text_content("#pilot-kpis")
    assert "落后于自身趋势" in kpis
    assert behind.as_of.isoformat() not in kpis.replace(f"{behind.as_of.isoformat()}数据截至", "")


def test_history_charts_put_dates_on_a_time_axis(demo, browser, live_server):
    prefecture, pilot, _behind = _pages()
    visitor = Visitor(browser, live_server, "zh-CN")
    page = visitor.page
    sign_in(page, live_server.url, "province", PASSWORD)
    for path, chart in (("/dashboard/", "chart-province-history"),
                        (f"/dashboard/prefectures/{prefecture.code}/", "chart-prefecture-history"),
                        (f"/dashboard/pilots/{pilot.pk}/", "chart-pilot-history")):
        if path != "/dashboard/":
            visitor.open(path)
        option = page.evaluate(AXIS_TYPES, chart)
        assert option["axis"] == "time", (path, option)
        assert len(option["first"]) == 2, option  # [date, percent]
