"""The quarterly bulletin (季度通报): the province asks for a quarter's bulletin, the worker's job writes it as
Word and PDF, and its figures are the completion API's. Read back with python-docx and poppler's pdftotext."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
from decimal import Decimal

import pytest
import time_machine
from docx import Document

from pilots.models import Bulletin, ProgressReport, WebhookDelivery
from pilots.services.bulletins import bulletin_generate, bulletin_schedule_due
from pilots.services.completion import completion_recompute_all
from smartcity.models import OutboxMessage
from tests.factories import (
    OrganisationFactory,
    PilotFactory,
    PrefectureFactory,
    ProgrammeFactory,
    SubTaskFactory,
    TaskFactory,
    member,
)
from tests.helpers import client_for, missing_tool
from tests.test_completion import at, plan, report

pytestmark = pytest.mark.django_db

TODAY = dt.date(2021, 10, 20)  # 2021Q3's deadline was 2021-10-11 (10 days, moved past a Sunday)
AS_OF = dt.date(2021, 10, 18)
State = ProgressReport.State


def _need_tools():
    for tool, package in (("soffice", "libreoffice-writer-nogui"), ("pdftotext", "poppler-utils"),
                          ("fc-list", "fontconfig")):
        if shutil.which(tool) is None:
            missing_tool(f"{tool} is not installed (Debian: {package})")
    listed = subprocess.run(["fc-list", ":lang=zh-cn", "family"], capture_output=True, text=True, check=False).stdout
    if not listed.strip():
        missing_tool("no CJK font is installed (Debian: fonts-noto-cjk)")


@pytest.fixture
def world():
    """Three prefectures, four pilots (one of them demo data), two sub-tasks, 2021Q3 reported mostly on time."""
    programme = ProgrammeFactory(code="sc-2020-3", title_zh="关于加快推进新型智慧城市建设的指导意见",
                                 document_number="川数字经济办〔2020〕3号", report_due_days=10)
    task = TaskFactory(programme=programme, code="T4")
    online = SubTaskFactory(task=task, code="T4.1", name_zh="优化“互联网+政务服务”", weight=Decimal(1))
    livelihood = SubTaskFactory(task=task, code="T4.2", name_zh="升级智慧民生综合应用", weight=Decimal(1))
    chengdu = PrefectureFactory(code="510100", name_zh="成都市")
    luzhou = PrefectureFactory(code="510500", name_zh="泸州市")
    yibin = PrefectureFactory(code="511500", name_zh="宜宾市")
    chenghua = PilotFactory(programme=programme, prefecture=chengdu, code="510108", name_zh="成华区")
    jiangyang = PilotFactory(programme=programme, prefecture=luzhou, code="510502", name_zh="江阳区")
    gongxian = PilotFactory(programme=programme, prefecture=yibin, code="511526", name_zh="珙县")
    demo = PilotFactory(programme=programme, prefecture=yibin, code="511502", name_zh="翠屏区", is_demo=True)
    for pilot in (chenghua, jiangyang, gongxian, demo):
        plan(pilot, online, (dt.date(2021, 9, 30), 50))
    report(chenghua, online, "2021Q3", "80")
    report(chenghua, livelihood, "2021Q3", "60")
    report(jiangyang, online, "2021Q3", "40")
    report(jiangyang, livelihood, "2021Q3", "30", submitted=at(dt.date(2021, 10, 15)))  # after the deadline
    report(gongxian, online, "2021Q3", "10")  # far behind plan; T4.2 never reported
    report(demo, online, "2021Q3", "70", is_demo=True)
    report(demo, livelihood, "2021Q3", "70", is_demo=True)
    completion_recompute_all(as_of=AS_OF)
    province = OrganisationFactory(code="province")
    return {
        "programme": programme, "chengdu": chengdu, "yibin": yibin,
        "admin": client_for(member("admin", province), can_write=True),
        "viewer": client_for(member("viewer", province)),
        "chengdu_office": client_for(member("reporter", OrganisationFactory(kind="prefecture", prefecture=chengdu))),
        "other_office": client_for(member("reporter", OrganisationFactory(
            kind="prefecture", prefecture=PrefectureFactory(code="511800", name_zh="雅安市")))),
        "integrator": client_for(member("integrator")),
    }


def _request(world, **body):
    with time_machine.travel(dt.datetime(2021, 10, 20, 10, tzinfo=dt.UTC), tick=False):
        return world["admin"].post("/api/v1/bulletins/", {"period": "2021Q3", "as_of": AS_OF.isoformat(),
                                                          "document_number": "川经信通〔2021〕12号", **body})


def _generated(world) -> dict:
    response = _request(world)
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "queued" and response.json()["docx_url"] is None
    bulletin_id = response.json()["id"]
    assert OutboxMessage.objects.filter(task="pilots.generate_bulletin", kwargs={"bulletin_id": bulletin_id}).exists()
    assert bulletin_generate(bulletin_id=bulletin_id) == "published"  # what the worker's task calls
    return world["viewer"].get(f"/api/v1/bulletins/{bulletin_id}/").json()


def _docx_text(content: bytes) -> tuple[str, list[list[list[str]]]]:
    document = Document(io.BytesIO(content))
    text = "\n".join(p.text for p in document.paragraphs)
    tables = [[[cell.text for cell in row.cells] for row in table.rows] for table in document.tables]
    return text, tables


def _pdf_text(content: bytes, tmp_path) -> str:
    path = tmp_path / "bulletin.pdf"
    path.write_bytes(content)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_the_bulletin_shows_the_completion_apis_figures_in_word_and_pdf(world, tmp_path):
    _need_tools()
    bulletin = _generated(world)
    assert bulletin["status"] == "published" and bulletin["progress"] == 100 and bulletin["as_of"] == "2021-10-18"
    assert bulletin["demo_label"] is not None  # 翠屏区 is demo data
    assert bulletin["recipients"] == ["510100", "510500", "511500"]

    viewer = world["viewer"]
    rates = viewer.get("/api/v1/completion/reporting-rates/", {"period": "2021Q3", "as_of": "2021-10-18"}).json()
    province_rate = next(row for row in rates["results"] if row["scope"] == "province")
    prefectures = viewer.get("/api/v1/completion/prefectures/", {"as_of": "2021-10-18"}).json()["results"]
    province = viewer.get("/api/v1/completion/province/", {"as_of": "2021-10-18"}).json()

    docx = viewer.get(bulletin["docx_url"].replace("http://testserver", ""))
    assert docx.status_code == 200 and docx["Content-Type"].startswith("application/vnd.openxmlformats")
    text, tables = _docx_text(b"".join(docx.streaming_content))

    on_time_rate = (Decimal(100) * province_rate["on_time"] / province_rate["expected"]).quantize(Decimal("0.1"))
    sentence = (f"全省应报 {province_rate['expected']} 份,按时报送 {province_rate['on_time']} 份,"
                f"按时报送率 {on_time_rate}%")
    assert sentence in text
    assert f"平均完成率 {province['completion']}%" in text
    assert "川经信通〔2021〕12号" in text and "2021年第3季度" in text
    assert "演示数据,非正式认定" in text  # the demo label, as everywhere else

    reporting, completion, behind, overdue = tables
    completion_by_name = {row[1].removesuffix("[演示]"): row for row in completion[1:]}
    for row in prefectures:
        name = row["prefecture"]["name_zh"]
        assert completion_by_name[name][3] == f"{row['completion']}%", name
    ranked = sorted(prefectures, key=lambda r: Decimal(r["completion"]), reverse=True)
    assert [row[1].removesuffix("[演示]") for row in completion[1:]] == [r["prefecture"]["name_zh"] for r in ranked]
    assert completion[1][0] == "1"
    rates_by_name = {row[1]: row for row in reporting[1:]}
    for row in rates["results"]:
        if row["scope"] == "prefecture":
            assert rates_by_name[row["prefecture"]["name_zh"]][2:4] == [str(row["expected"]), str(row["on_time"])]
    behind_api = viewer.get("/api/v1/completion/behind/", {"as_of": "2021-10-18"}).json()["results"]
    assert {row[0] for row in behind[1:]} >= {"珙县"} and {r["pilot"]["code"] for r in behind_api} >= {"511526"}

    pdf = viewer.get(bulletin["pdf_url"].replace("http://testserver", ""))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    pdf_text = re.sub(r"\s+", "", _pdf_text(b"".join(pdf.streaming_content), tmp_path))
    assert re.sub(r"\s+", "", sentence) in pdf_text
    for row in prefectures:
        assert f"{row['completion']}%" in pdf_text
    assert "成都市" in pdf_text and "演示数据" in pdf_text


def test_asking_again_for_the_same_quarter_returns_the_bulletin_unless_again(world):
    first = _request(world)
    assert first.status_code == 202
    same = _request(world)
    assert same.status_code == 200 and same.json()["id"] == first.json()["id"]
    again = _request(world, again=True)
    assert again.status_code == 202 and again.json()["revision"] == 2
    assert Bulletin.objects.count() == 2


def test_a_second_run_of_the_job_leaves_a_published_bulletin_alone(world):
    _need_tools()
    bulletin = _generated(world)
    assert bulletin_generate(bulletin_id=bulletin["id"]) == "skipped"


def test_publishing_emits_the_webhook_event_with_the_bulletin(world):
    _need_tools()
    from pilots.models import WebhookSubscription
    from pilots.services.webhooks import webhook_deliveries_record

    WebhookSubscription.objects.create(owner=member("integrator"), url="https://receiver.example/hook",
                                       events=["bulletin.published"], secret="s" * 32)
    bulletin = _generated(world)
    message = OutboxMessage.objects.get(task="pilots.deliver_webhooks")
    assert message.kwargs["event"] == "bulletin.published"
    data = message.kwargs["data"]
    assert (data["bulletin"], data["period"], data["recipients"]) == (bulletin["id"], "2021Q3",
                                                                    ["510100", "510500", "511500"])
    assert data["pdf_url"].endswith(f"/api/v1/bulletins/{bulletin['id']}/pdf/") and data["includes_demo"] is True
    webhook_deliveries_record(**message.kwargs)
    assert WebhookDelivery.objects.get().event == "bulletin.published"


def test_a_quarter_that_has_not_ended_is_refused_naming_the_field(world):
    with time_machine.travel(dt.datetime(2021, 9, 20, 10, tzinfo=dt.UTC), tick=False):
        response = world["admin"].post("/api/v1/bulletins/", {"period": "2021Q3"})
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"period"}
    bad = world["admin"].post("/api/v1/bulletins/", {"period": "2021Q5"})
    assert bad.status_code == 400 and {e["field"] for e in bad.json()["errors"]} == {"period"}
    assert not Bulletin.objects.exists()


def test_only_an_administrator_of_the_province_requests_a_bulletin(world):
    for who in ("viewer", "chengdu_office", "integrator"):
        assert world[who].post("/api/v1/bulletins/", {"period": "2021Q3"}).status_code == 403, who
    assert client_for(None).get("/api/v1/bulletins/").status_code in (401, 403)


def test_who_sees_which_bulletin(world):
    queued = _request(world).json()
    # Until it is published only the provincial office sees it.
    assert [b["id"] for b in world["viewer"].get("/api/v1/bulletins/").json()["results"]] == [queued["id"]]
    for who in ("chengdu_office", "integrator"):
        assert world[who].get("/api/v1/bulletins/").json()["results"] == [], who
        assert world[who].get(f"/api/v1/bulletins/{queued['id']}/").status_code == 404, who
    Bulletin.objects.filter(pk=queued["id"]).update(status=Bulletin.Status.PUBLISHED)
    # A prefecture office sees the bulletins sent to it; one it was not sent, not at all.
    assert [b["id"] for b in world["chengdu_office"].get("/api/v1/bulletins/").json()["results"]] == [queued["id"]]
    assert [b["id"] for b in world["integrator"].get("/api/v1/bulletins/").json()["results"]] == [queued["id"]]
    assert world["other_office"].get("/api/v1/bulletins/").json()["results"] == []
    assert world["other_office"].get(f"/api/v1/bulletins/{queued['id']}/pdf/").status_code == 404


def test_the_schedule_asks_for_the_last_quarters_bulletin_once_after_its_deadline(world):
    # 2021Q3's deadline is Monday 2021-10-11; one working day later is 2021-10-12.
    assert bulletin_schedule_due(today=dt.date(2021, 10, 11)) == {"bulletins_requested": 0}
    assert bulletin_schedule_due(today=dt.date(2021, 10, 12)) == {"bulletins_requested": 1}
    assert bulletin_schedule_due(today=dt.date(2021, 10, 13)) == {"bulletins_requested": 0}
    bulletin = Bulletin.objects.get()
    assert (bulletin.period, bulletin.as_of, bulletin.trigger) == ("2021Q3", dt.date(2021, 10, 12), "schedule")


def test_the_shipped_template_downloads_as_word(world):
    response = world["viewer"].get("/api/v1/bulletins/template/")
    assert response.status_code == 200
    text, tables = _docx_text(response.content)
    assert "{{ summary.reporting }}" in text and len(tables) == 4
