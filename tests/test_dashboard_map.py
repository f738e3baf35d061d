"""The overview's map of Sichuan in a real browser (Playwright + the system Chromium): the 21 prefectures are
drawn from the installed map data and coloured by the figure the reader chooses, each pilot is a point at its
county, a click on a prefecture or a pilot opens its page, and the table beside it is the keyboard's way."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from pilots.dashboard.browser import chromium, chromium_available, sign_in, wait_loaded
from pilots.models import Pilot
from tests.helpers import missing_tool
from tests.test_dashboard_pages import AXE, AXE_RUN

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = os.environ.get("DEMO_PASSWORD", "demo-pass-2020")
MAP_DATA = Path(settings.BASE_DIR) / "pilots" / "static" / "vendor" / "sichuan" / "sichuan-map.js"

MAP_STATE = """() => {
    const node = document.getElementById('sichuan-map');
    const chart = window.echarts.getInstanceByDom(node);
    const option = chart.getOption();
    const canvas = node.querySelector('canvas');
    return {regions: chart.getModel().getComponent('geo').coordinateSystem.regions.map(r => r.name).length,
            values: option.series[0].data.map(d => [d.code, d.value]), points: option.series[1].data.length,
            title: option.title[0].text, painted: canvas ? canvas.toDataURL().length : 0};
}"""
# A spot inside a prefecture, away from every pilot's point, in page coordinates: where a click means the prefecture.
FREE_SPOT = """code => {
    const node = document.getElementById('sichuan-map');
    const chart = window.echarts.getInstanceByDom(node);
    const box = node.getBoundingClientRect();
    const feature = window.SICHUAN_MAP.features.find(f => f.id === code);
    const points = chart.getOption().series[1].data.map(d => chart.convertToPixel({geoIndex: 0}, d.value.slice(0, 2)));
    const [x0, y0] = chart.convertToPixel({geoIndex: 0}, feature.properties.cp);
    for (let radius = 0; radius < 60; radius += 4) {
        for (let step = 0; step < 16; step++) {
            const x = x0 + radius * Math.cos(step * Math.PI / 8), y = y0 + radius * Math.sin(step * Math.PI / 8);
            const region = chart.convertFromPixel({geoIndex: 0}, [x, y]);
            const inside = chart.containPixel({geoIndex: 0}, [x, y]);
            if (inside && points.every(([px, py]) => Math.hypot(px - x, py - y) > 14)) {
                return {x: box.left + x, y: box.top + y, region};
            }
        }
    }
    return null;
}"""
PILOT_SPOT = """code => {
    const node = document.getElementById('sichuan-map');
    const chart = window.echarts.getInstanceByDom(node);
    const box = node.getBoundingClientRect();
    const point = window.SICHUAN_COUNTIES[code].cp;
    const [x, y] = chart.convertToPixel({geoIndex: 0}, point);
    return {x: box.left + x, y: box.top + y};
}"""


@pytest.fixture
def demo(transactional_db):
    missing = [what for what, present in (("/usr/bin/chromium", chromium_available()),
                                          ("node_modules/axe-core (make install)", AXE.exists()),
                                          (f"{MAP_DATA} (make install builds it with node)", MAP_DATA.exists()))
               if not present]
    if missing:
        missing_tool(f"missing {', '.join(missing)}")
    call_command("bootstrap", "--demo", verbosity=0)
    call_command("recompute_completion", verbosity=0)


@pytest.fixture
def page(demo, live_server, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium() as browser:
        context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 1000})
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        sign_in(page, live_server.url, "province", PASSWORD)
        page.wait_for_selector("#sichuan-map[data-loaded=true]")
        yield page


def test_the_map_draws_every_prefecture_and_pilot_and_a_click_opens_the_prefecture(page, live_server):
    state = page.evaluate(MAP_STATE)
    assert state["regions"] == 21 and state["painted"] > 20000
    assert state["points"] == Pilot.objects.count()  # every pilot, demo ones included (and labelled)
    assert state["title"] == "完成率(%)"
    table_codes = page.eval_on_selector_all("#sichuan-map-table tbody tr", "rows => rows.map(r => r.dataset.code)")
    assert sorted(table_codes) == sorted(code for code, _value in state["values"])
    assert page.locator("text=演示数据,非正式认定").first.is_visible()  # demo pilots are labelled

    # The reader colours it by the on-time reporting rate instead.
    page.check("input[name=map-metric][value=reporting]")
    assert page.evaluate(MAP_STATE)["title"] == "按时报送率(%)"
    page.check("input[name=map-metric][value=completion]")

    spot = page.evaluate(FREE_SPOT, "513300")  # 甘孜藏族自治州
    assert spot is not None
    page.mouse.click(spot["x"], spot["y"])
    page.wait_for_url("**/dashboard/prefectures/513300/**")
    wait_loaded(page)
    assert page.errors == []


def test_a_click_on_a_pilot_point_opens_the_pilot(page):
    pilot = Pilot.objects.get(code="513426")  # 会东县, alone in its corner of 凉山州
    spot = page.evaluate(PILOT_SPOT, pilot.code)
    page.mouse.click(spot["x"], spot["y"])
    page.wait_for_url(f"**/dashboard/pilots/{pilot.pk}/**")


def test_the_table_beside_the_map_is_the_keyboard_way_and_passes_the_audit(page):
    page.evaluate(AXE.read_text(encoding="utf-8"))
    assert page.evaluate(AXE_RUN) == []
    link = page.locator("#sichuan-map-table tbody tr[data-code='510100'] th a")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboard/prefectures/510100/**")


def test_the_overview_lists_the_bulletins_with_their_files(page, settings, tmp_path):
    import datetime as dt

    from django.core.files.base import ContentFile

    from pilots.models import Bulletin
    from tasks_app.models import Programme

    settings.MEDIA_ROOT = tmp_path
    bulletin = Bulletin.objects.create(programme=Programme.objects.get(code="sc-2020-3"), period="2022Q4", as_of=dt.date(2023, 1, 20),
                                       status=Bulletin.Status.PUBLISHED, progress=100, includes_demo=True)
    bulletin.pdf.save("bulletin.pdf", ContentFile(b"%PDF-1.4\n%test\n"), save=False)
    bulletin.docx.save("bulletin.docx", ContentFile(b"PK"), save=True)
    page.reload()
    page.wait_for_selector("#bulletins-table[data-loaded=true]")
    row = page.locator("#bulletins-table tbody tr").first
    assert "2022Q4" in row.text_content() and "已发布" in row.text_content() and "演示" in row.text_content()
    with page.expect_download() as download:
        row.locator("a:has-text('PDF')").click()
    assert download.value.suggested_filename == "bulletin-sc-2020-3-2022Q4-r1.pdf"
