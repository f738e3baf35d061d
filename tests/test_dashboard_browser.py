"""The dashboard in a real browser: headless Chromium (system package) driven by Playwright.

The live server (pytest-django's ``live_server``) serves the demo data with its figures computed; the
pages' JavaScript reads the same JSON API as the integrators, with the session cookie.
"""

from __future__ import annotations

import io
import os
import re

import pytest
from django.core.management import call_command
from openpyxl import load_workbook

from pilots.dashboard.browser import chromium, chromium_available, sign_in, wait_loaded
from pilots.models import ProgressReport

from tests.helpers import missing_tool

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = os.environ.get("DEMO_PASSWORD", "demo-pass-2020")
CHARTS_DRAWN = """ids => ids.map(id => {
    const node = document.getElementById(id);
    const instance = node && window.echarts.getInstanceByDom(node);
    const canvas = node && node.querySelector('canvas');
    return {id, instance: !!instance, width: canvas ? canvas.width : 0, height: canvas ? canvas.height : 0,
            data: canvas ? canvas.toDataURL().length : 0, tabindex: node && node.getAttribute('tabindex'),
            label: node && node.getAttribute('aria-label')};
})"""


@pytest.fixture
def demo(transactional_db, settings):
    if not chromium_available():
        missing_tool("/usr/bin/chromium is missing (apt-get install -y chromium)")
    call_command("bootstrap", "--demo", verbosity=0)
    call_command("recompute_completion", verbosity=0)


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM reads are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium() as browser:
        yield browser


def _page(browser, live_server):
    context = browser.new_context(locale="zh-CN", accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.errors = []
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


def _assert_charts_drawn(page, ids):
    for chart in page.evaluate(CHARTS_DRAWN, ids):
        assert chart["instance"], chart
        assert chart["width"] > 0 and chart["height"] > 0 and chart["data"] > 5000, chart
        assert chart["tabindex"] == "0" and chart["label"], chart


def _assert_overdue_count_is_the_apis(page):
    """The box says how many it shows of the API's own count, and pages through the rest by keyboard."""
    total = page.evaluate("fetch('/api/v1/overdue/', {headers: {Accept: 'application/json'}})"
                          ".then(r => r.json()).then(d => d.count)")
    shown = page.locator("#overdue-table tbody tr").count()
    status = page.text_content("#overdue-count")
    if total > 50:
        assert shown == 50 and f"显示前 50 项，共 {total} 项" in status, status
        page.focus("#overdue-pages button:has-text('下一页')")
        page.keyboard.press("Enter")
        page.locator("#overdue-count:has-text('显示第 51–100 项')").wait_for()
        assert f"共 {total} 项" in page.text_content("#overdue-count")
        page.click("#overdue-pages button:has-text('上一页')")
        page.locator("#overdue-count:has-text('显示前 50 项')").wait_for()
    else:
        assert shown == total and "显示" not in status, status
    assert "清单计算于" in page.text_content("#overdue-count")


def _assert_behind_count_is_the_apis(page):
    """The behind-schedule list is longer than a page: it says which 25 it shows of the API's count,
    in the API's order, and pages on by keyboard with the focus kept on the button."""
    api = page.evaluate("fetch('/api/v1/completion/behind/?page_size=25&page=2', {headers: {Accept: 'application/json'}})"
                        ".then(r => r.json())")
    total = api["count"]
    assert total > 50, "the demo data has more sub-tasks behind schedule than two pages"
    assert page.locator("#behind-table tbody tr").count() == 25
    assert f"显示前 25 项，共 {total} 项" in page.text_content("#behind-count")
    page.focus("#behind-pages button:has-text('下一页')")
    page.keyboard.press("Enter")
    page.locator("#behind-count:has-text('显示第 26–50 项')").wait_for()
    assert f"共 {total} 项" in page.text_content("#behind-count")
    first = api["results"][0]
    assert page.text_content("#behind-table tbody tr:first-child td:nth-child(2)") == (
        f"{first['subtask']['code']} {first['subtask']['name_zh']}")
    assert page.evaluate("document.activeElement.textContent") == "下一页"
    page.keyboard.press("Shift+Tab")  # Previous, back to the first page
    page.keyboard.press("Enter")
    page.locator("#behind-count:has-text('显示前 25 项')").wait_for()


def test_the_province_reads_drills_down_approves_and_exports(demo, browser, live_server):
    page = _page(browser, live_server)
    sign_in(page, live_server.url, "province", PASSWORD)

    assert page.url == f"{live_server.url}/dashboard/"
    assert page.text_content("h1") == "全省总览"
    _assert_charts_drawn(page, ["chart-province-history", "chart-prefectures", "chart-tasks", "chart-departments",
                                "chart-heatmap"])
    assert "/ 30" in page.text_content("#goal-kpis")
    # Every chart has its table, with the figures of the same API.
    assert page.locator("#chart-prefectures-table tbody tr").count() == 21
    _assert_behind_count_is_the_apis(page)
    # What is overdue, most urgent first (demo offices forgot some of their latest reports).
    page.wait_for_selector("#overdue-table tbody tr")
    first_level = page.text_content("#overdue-table tbody tr:first-child td:nth-child(5)")
    assert first_level in {"升级督办", "再次提醒", "逾期", "临期"}
    _assert_overdue_count_is_the_apis(page)
    assert page.locator("#chart-heatmap-table .badge.demo").count() >= 1  # demo pilots are marked

    # The export of the prefecture table opens in openpyxl.
    with page.expect_download() as download_info:
        page.click("#export-pref-xlsx")
    download = download_info.value
    assert re.fullmatch(r"prefecture-completion-\d{4}-\d{2}-\d{2}\.xlsx", download.suggested_filename)
    with open(download.path(), "rb") as file:  # a temporary name without the .xlsx openpyxl wants
        sheet = load_workbook(io.BytesIO(file.read())).active
    assert sheet["A1"].value == "市(州)代码" and sheet.max_row == 22

    # Demo data hidden: the heatmap shows real pilots only.
    page.click("#real-only-toggle")
    wait_loaded(page)
    assert "real_only=true" in page.url
    assert page.locator("#chart-heatmap-table .badge.demo").count() == 0
    assert page.locator("#chart-heatmap-table tbody tr").count() == 10

    # Drill down: a prefecture, then a pilot with a submitted report.
    report = (ProgressReport.objects.filter(state=ProgressReport.State.SUBMITTED, is_current=True)
              .select_related("pilot__prefecture").order_by("pk").first())
    assert report is not None, "the demo data has a submitted report"
    page.goto(f"{live_server.url}/dashboard/prefectures/{report.pilot.prefecture.code}/")
    wait_loaded(page)
    _assert_charts_drawn(page, ["chart-prefecture-history", "chart-heatmap"])
    page.click("#chart-heatmap + details > summary")  # the table alternative of the heatmap
    page.click(f"#chart-heatmap-table a[href^='/dashboard/pilots/{report.pilot_id}/']")
    wait_loaded(page)
    assert page.url.startswith(f"{live_server.url}/dashboard/pilots/{report.pilot_id}/")
    _assert_charts_drawn(page, ["chart-subtasks", "chart-pilot-history"])
    # The pilot's reports: as many rows as the API counts, or a page of 50 that says it is one of them.
    reports = page.evaluate(f"fetch('/api/v1/reports/?pilot={report.pilot_id}', {{headers: {{Accept: 'application/json'}}}})"
                            ".then(r => r.json()).then(d => d.count)")
    rows = page.locator("#reports-table tbody tr").count()
    status = page.text_content("#reports-count")
    assert (rows, status) == ((50, f"显示前 50 项，共 {reports} 项。") if reports > 50 else (reports, "")), status

    page.click(f"#reports-table button.approve[data-report='{report.pk}']")
    page.wait_for_selector(f"#reports-table button.approve[data-report='{report.pk}']", state="detached")
    report.refresh_from_db()
    assert report.state == ProgressReport.State.APPROVED and report.reviewed_by.username == "province"

    # The language switch.
    page.click("button[name=language][value=en]")
    wait_loaded(page)
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.text_content("#h-sub") == "Sub-tasks"

    assert page.errors == []


def test_a_prefecture_office_sees_its_own_prefecture_only(demo, browser, live_server):
    page = _page(browser, live_server)
    sign_in(page, live_server.url, "pref-510100", PASSWORD)

    assert page.url == f"{live_server.url}/dashboard/prefectures/510100/"
    _assert_charts_drawn(page, ["chart-prefecture-history", "chart-heatmap"])
    page.click("#chart-heatmap + details > summary")
    page.click("#chart-heatmap-table a[href^='/dashboard/pilots/']")
    wait_loaded(page)
    assert page.locator("#reports-table tbody tr").count() > 0
    assert page.locator("#reports-table button.approve").count() == 0  # an office does not review
    assert page.errors == []

    response = page.goto(f"{live_server.url}/dashboard/prefectures/510500/")
    assert response.status == 404
