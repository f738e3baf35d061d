"""The dashboard pages with Django's test client: sign-in, scope (another prefecture is a 404) and exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.test import Client
from openpyxl import load_workbook

from pilots.services.completion import completion_recompute_all
from tests.completion_helpers import report
from tests.factories import (
    PASSWORD,
    OrganisationFactory,
    PilotFactory,
    PrefectureFactory,
    ProgrammeFactory,
    SubTaskFactory,
    TaskFactory,
    member,
)

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2021, 10, 15)


@pytest.fixture
def world():
    programme = ProgrammeFactory(code="sc-2020-3", goal_pilot_count=30, goal_deadline=dt.date(2022, 12, 31))
    online = SubTaskFactory(task=TaskFactory(programme=programme, code="T4"), code="T4.1", weight=Decimal(1))
    chengdu = PrefectureFactory(code="510100", name_zh="成都市")
    luzhou = PrefectureFactory(code="510500", name_zh="泸州市")
    chenghua = PilotFactory(programme=programme, prefecture=chengdu, code="510108")
    jiangyang = PilotFactory(programme=programme, prefecture=luzhou, code="510502", is_demo=True)
    report(chenghua, online, "2021Q3", "60")
    report(jiangyang, online, "2021Q3", "100")
    completion_recompute_all(as_of=AS_OF)
    province = OrganisationFactory(code="province")

    def signed_in(user):
        client = Client()
        client.force_login(user)
        return client

    return {
        "chengdu": chengdu, "luzhou": luzhou, "chenghua": chenghua, "jiangyang": jiangyang,
        "reviewer": signed_in(member("reviewer", province)),
        "chengdu_office": signed_in(member("reporter", OrganisationFactory(kind="prefecture", prefecture=chengdu))),
    }


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/prefectures/510100/", "/dashboard/pilots/1/",
                                  "/dashboard/export/prefectures.xlsx"])
def test_anonymous_visitors_are_sent_to_the_sign_in_page(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_the_sign_in_page_signs_in_and_goes_to_the_dashboard(client, world):
    member("viewer", OrganisationFactory(code="viewers"), username="someone")
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": "someone", "password": PASSWORD, "next": "/dashboard/"})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


def test_the_province_sees_every_page(world):
    reviewer = world["reviewer"]
    assert reviewer.get("/dashboard/").status_code == 200
    assert reviewer.get("/dashboard/prefectures/510500/").status_code == 200
    page = reviewer.get(f"/dashboard/pilots/{world['jiangyang'].pk}/")
    assert page.status_code == 200
    assert "演示 / demo" in page.content.decode()  # a demo pilot is marked
    assert 'data-can-review="true"' in page.content.decode()


def test_a_prefecture_office_is_taken_to_its_own_prefecture(world):
    office = world["chengdu_office"]
    response = office.get("/dashboard/")
    assert response.status_code == 302 and response["Location"] == "/dashboard/prefectures/510100/"
    assert office.get("/dashboard/prefectures/510100/").status_code == 200
    assert office.get(f"/dashboard/pilots/{world['chenghua'].pk}/").status_code == 200
    page = office.get(f"/dashboard/pilots/{world['chenghua'].pk}/").content.decode()
    assert 'data-can-review="false"' in page


def test_another_prefectures_pages_and_exports_do_not_exist_for_an_office(world):
    office = world["chengdu_office"]
    assert office.get("/dashboard/prefectures/510500/").status_code == 404
    assert office.get(f"/dashboard/pilots/{world['jiangyang'].pk}/").status_code == 404
    assert office.get("/dashboard/prefectures/999999/").status_code == 404
    assert office.get("/dashboard/export/prefectures.xlsx?prefecture=510500").status_code == 404
    assert office.get("/dashboard/export/prefectures.csv?prefecture=510500").status_code == 404
    # Without a filter, its export holds its own prefecture only.
    rows = list(csv.reader(io.StringIO(office.get("/dashboard/export/prefectures.csv").content.decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == ["510100"]


def test_the_pages_have_no_inline_scripts(world):
    for path in ("/dashboard/", "/dashboard/prefectures/510100/", f"/dashboard/pilots/{world['chenghua'].pk}/",
                 "/accounts/login/"):
        html = world["reviewer"].get(path).content.decode()
        for tag in re.findall(r"<script[^>]*>", html):
            assert "src=" in tag, tag
        assert not re.search(r"<script[^>]*>(?!</script>)", html), path  # no inline code
        assert not re.search(r"<[^>]+\son[a-z]+=", html), path  # no inline event handlers


def test_the_prefecture_table_exports_as_a_spreadsheet(world):
    response = world["reviewer"].get("/dashboard/export/prefectures.xlsx")
    assert response.status_code == 200
    assert re.fullmatch(r'attachment; filename="prefecture-completion-\d{4}-\d{2}-\d{2}\.xlsx"',
                        response["Content-Disposition"])
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].value == "市(州)代码" and sheet["B1"].value == "市(州)"
    assert sheet.column_dimensions["B"].width == 18
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    assert [(r[0], r[1], r[2]) for r in rows] == [("510100", "成都市", 60.0), ("510500", "泸州市", 100.0)]


def test_the_export_without_demo_data_leaves_out_demo_pilots(world):
    response = world["reviewer"].get("/dashboard/export/prefectures.csv?real_only=true")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "市(州)代码"
    assert {row[0]: row[6] for row in rows[1:]}.get("510500") in (None, "0")  # its only pilot is a demo one


def test_a_user_without_an_organisation_is_refused(client, world):
    from tests.factories import UserFactory

    client.force_login(UserFactory())
    assert client.get("/dashboard/").status_code == 403
    assert client.get("/dashboard/export/prefectures.csv").status_code == 403


def test_the_overview_offers_the_report_export_with_the_demo_filter(world):
    html = world["reviewer"].get("/dashboard/?real_only=true").content.decode()
    assert 'href="/api/v1/reports/export.xlsx?demo=false"' in html
    assert 'href="/dashboard/export/prefectures.xlsx?real_only=true"' in html
    # The demo-data link says what it does and where it goes (a link has no pressed state: issue 20's axe audit).
    assert 'href="?real_only=false">显示演示数据</a>' in html and "aria-pressed" not in html


def test_the_dashboard_and_sign_in_pages_carry_a_strict_content_security_policy(client):
    sign_in_page = client.get("/accounts/login/")

    policy = sign_in_page["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert "Content-Security-Policy" not in client.get("/api/docs/")  # Swagger UI runs inline scripts


FORMULA_NAMES = ["=HYPERLINK(\"http://evil.example\",\"点此\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("name", FORMULA_NAMES)
def test_the_dashboard_csv_export_never_hands_a_spreadsheet_a_formula(world, name):
    """A prefecture whose name a spreadsheet would run as a formula is exported as inert text, as the API's
    report export does (one CSV writer for both); negative numbers stay numbers."""
    world["luzhou"].name_zh = name
    world["luzhou"].save()
    response = world["reviewer"].get("/dashboard/export/prefectures.csv")
    rows = {row[0]: row for row in csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline=""))}
    assert rows["510500"][1] == "'" + name
    assert rows["510100"][1] == "成都市"
    variance = rows["510100"][4]
    assert variance == "" or not variance.startswith("'")


def test_the_dashboard_xlsx_export_keeps_a_formula_looking_name_as_text(world):
    world["luzhou"].name_zh = "=1+1"
    world["luzhou"].save()
    sheet = load_workbook(io.BytesIO(world["reviewer"].get("/dashboard/export/prefectures.xlsx").content)).active
    cell = next(row[1] for row in sheet.iter_rows(min_row=2) if row[0].value == "510500")
    assert cell.value == "=1+1" and cell.data_type == "s"
