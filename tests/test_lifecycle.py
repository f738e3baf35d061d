"""A county's way from application to designation to acceptance (验收), with a rectification (整改).

成都市's office files 龙泉驿区's application in the (demo) 2022 round, recommends it first of its quota of
one; the province's experts select it, it goes on public notice and is designated, which creates the pilot
with its batch. After construction ends the office applies for acceptance; the experts ask for a
rectification by a date, the office reports it done, the re-review passes and the pilot is accepted, with
each state in its history and each step readable as of any past date.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
import time_machine

from pilots.models import (
    Acceptance, ApplicationRound, ApplicationStep, LifecycleDocument, Pilot, PilotApplication, PilotStateChange,
)
from smartcity.models import AuditEntry
from tests.factories import OrganisationFactory, PilotFactory, PrefectureFactory, ProgrammeFactory, member
from tests.helpers import client_for, error_fields

pytestmark = pytest.mark.django_db

ROUNDS = "/api/v1/application-rounds/"
APPLICATIONS = "/api/v1/applications/"
ACCEPTANCES = "/api/v1/acceptances/"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
GOOD_SCORES = {"basis": "26.5", "plan": "35", "support": "27"}
ACCEPTANCE_SCORES = {"tasks": "41", "results": "20", "management": "15"}


def on(day: str):
    """Travel to 10:00 Asia/Shanghai on ``day``."""
    return time_machine.travel(dt.datetime.fromisoformat(f"{day}T10:00:00+08:00"), tick=False)


@pytest.fixture
def world():
    programme = ProgrammeFactory()
    chengdu = PrefectureFactory(code="510100", name_zh="成都市", name_en="Chengdu")
    luzhou = PrefectureFactory(code="510500", name_zh="泸州市", name_en="Luzhou")
    province = OrganisationFactory()
    return {
        "programme": programme, "chengdu": chengdu, "luzhou": luzhou,
        "office": client_for(member("reporter", OrganisationFactory(kind="prefecture", prefecture=chengdu)),
                             can_write=True),
        "luzhou_office": client_for(member("reporter", OrganisationFactory(kind="prefecture", prefecture=luzhou)),
                                    can_write=True),
        "reviewer": client_for(member("reviewer", province), can_write=True),
        "viewer": client_for(member("viewer", province)),
    }


def open_round(world, **overrides):
    body = {"programme": world["programme"].pk, "year": 2022, "title": "2022年新型智慧城市试点示范申报(演示)",
            "guide_title": "2022年度申报指南(演示)", "opens_on": "2022-03-01", "closes_on": "2022-04-30",
            "quotas": [{"prefecture": "510100", "quota": 1}], "is_demo": True, **overrides}
    with on("2022-02-20"):
        response = world["reviewer"].post(ROUNDS, body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def file_application(world, round_id, *, county="510112", name="成都市龙泉驿区", client="office", day="2022-03-10"):
    with on(day):
        return world[client].post(APPLICATIONS, {
            "round": round_id, "county_code": county, "name_zh": name, "name_en": "Longquanyi District",
            "plan_summary": "建设城市运行管理“一网统管”平台。", "planned_investment": "8000.00",
            "construction_start": "2022-07-01", "construction_end": "2024-06-30",
        }, format="json")


def step(client, url, action, body, day, **headers):
    """Read the record's ETag, then take the step with it, as a client does."""
    with on(day):
        etag = client.get(url)["ETag"]
        return client.post(f"{url}{action}/", body, format="json", HTTP_IF_MATCH=etag, **headers)


def upload(client, url, name, content, kind, day):
    """Upload a document with its file name, as a browser sends one."""
    document = io.BytesIO(content)
    document.name = name
    with on(day):
        return client.post(f"{url}documents/", {"kind": kind, "file": document}, format="multipart")


def designated(world):
    """The application walked to designation; returns its URL and the pilot."""
    round_ = open_round(world)
    response = file_application(world, round_["id"])
    assert response.status_code == 201, response.json()
    url = f"{APPLICATIONS}{response.json()['id']}/"
    office, reviewer = world["office"], world["reviewer"]
    assert step(office, url, "recommend", {"rank": 1, "opinion": "同意推荐"}, "2022-04-20").status_code == 200
    assert step(reviewer, url, "review", {"reviewers": ["张专家", "李专家", "王专家"], "scores": GOOD_SCORES,
                                          "conclusion": "pass"}, "2022-05-20").status_code == 200
    assert step(reviewer, url, "notice", {"starts_on": "2022-06-01", "ends_on": "2022-06-07"},
                "2022-06-01").status_code == 200
    response = step(reviewer, url, "designate", {"designated_on": "2022-06-10", "objections": "公示期间未收到异议。"},
                    "2022-06-10")
    assert response.status_code == 200, response.json()
    return url, Pilot.objects.get(pk=response.json()["pilot"]["id"])


def test_a_county_is_designated_through_every_step_and_each_is_on_record(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    round_ = open_round(world)
    assert round_["quotas"] == [{"prefecture": "510100", "quota": 1}]
    assert [c["code"] for c in round_["selection_criteria"]] == ["basis", "plan", "support"]  # the default sheet
    assert round_["demo_label"] is not None

    response = file_application(world, round_["id"])
    assert response.status_code == 201, response.json()
    application = response.json()
    assert (application["state"], application["prefecture"], application["is_demo"]) == ("applied", "510100", True)
    url = f"{APPLICATIONS}{application['id']}/"
    response = upload(world["office"], url, "申报书.pdf", PDF, "application_form", "2022-03-11")
    assert response.status_code == 201, response.json()

    office, reviewer = world["office"], world["reviewer"]
    response = step(office, url, "recommend", {"rank": 1, "opinion": "同意推荐,排名第一"}, "2022-04-20")
    assert response.status_code == 200, response.json()
    response = step(reviewer, url, "review", {"reviewers": ["张专家", "李专家"], "scores": GOOD_SCORES,
                                              "conclusion": "pass"}, "2022-05-20")
    assert response.status_code == 200, response.json()
    assert response.json()["total_score"] == "88.50"
    assert step(reviewer, url, "notice", {"starts_on": "2022-06-01", "ends_on": "2022-06-07"},
                "2022-06-01").status_code == 200
    response = step(reviewer, url, "designate", {"designated_on": "2022-06-10", "objections": "公示期间未收到异议。"},
                    "2022-06-10")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["state"] == "designated" and body["objections"] == "公示期间未收到异议。"
    assert [s["action"] for s in body["steps"]] == ["apply", "recommend", "review", "notice", "designate"]
    assert body["steps"][1]["comment"] == "同意推荐,排名第一" and body["steps"][1]["actor"]
    assert body["documents"][0]["kind"] == "application_form"

    pilot = Pilot.objects.get(code="510112")
    assert (pilot.batch_year, pilot.state, pilot.designated_on, pilot.is_demo) == (
        2022, "designated", dt.date(2022, 6, 10), True)
    assert (pilot.construction_start, pilot.construction_end) == (dt.date(2022, 7, 1), dt.date(2024, 6, 30))
    assert list(pilot.state_changes.values_list("state", "effective_on")) == [("designated", dt.date(2022, 6, 10))]
    assert body["pilot"]["code"] == "510112"

    # Every step is audited, with the state before and after.
    actions = list(AuditEntry.objects.filter(object_type="pilots.pilotapplication")
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["create", "recommend", "review", "notice", "designate"]

    # As of any past date: recommended on 2022-05-01, not yet filed on 2022-03-01.
    with on("2022-07-01"):
        rows = world["viewer"].get(APPLICATIONS, {"as_of": "2022-05-01"}).json()["results"]
        assert [(r["county_code"], r["state_as_of"], r["state"]) for r in rows] == [
            ("510112", "recommended", "designated")]
        assert world["viewer"].get(APPLICATIONS, {"as_of": "2022-03-01"}).json()["results"] == []
        rows = world["viewer"].get(APPLICATIONS, {"as_of": "2022-06-05", "state": "on_notice"}).json()["results"]
        assert len(rows) == 1


def test_the_pilot_is_accepted_after_a_rectification(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    _url, pilot = designated(world)
    office, reviewer = world["office"], world["reviewer"]

    with on("2024-05-01"):  # construction has not ended yet
        response = office.post(ACCEPTANCES, {"pilot": pilot.pk, "self_assessment": "自评"}, format="json")
    assert response.status_code == 400 and error_fields(response) == {"pilot"}
    with on("2024-07-05"):
        response = office.post(ACCEPTANCES, {"pilot": pilot.pk, "self_assessment": "各项任务已完成,自评 86 分。"},
                               format="json")
    assert response.status_code == 201, response.json()
    url = f"{ACCEPTANCES}{response.json()['id']}/"
    assert upload(office, url, "佐证材料.pdf", PDF, "evidence", "2024-07-06").status_code == 201

    response = step(reviewer, url, "review", {"experts": ["张专家", "李专家"], "scores": ACCEPTANCE_SCORES,
                                              "conclusion": "rectify", "findings": "数据汇聚不足",
                                              "rectify_by": "2024-10-31"}, "2024-08-01")
    assert response.status_code == 200, response.json()
    assert (response.json()["state"], response.json()["rectify_by"]) == ("rectifying", "2024-10-31")
    pilot.refresh_from_db()
    assert pilot.state == "designated"  # not accepted, not failed: rectifying

    assert upload(office, url, "整改材料.pdf", PDF, "rectification", "2024-10-19").status_code == 201
    response = step(office, url, "rectification", {"report": "已完成数据汇聚整改。"}, "2024-10-20")
    assert response.status_code == 200 and response.json()["state"] == "resubmitted"
    response = step(reviewer, url, "review", {"experts": ["张专家"], "scores": {**ACCEPTANCE_SCORES, "results": "28"},
                                              "conclusion": "passed"}, "2024-11-15")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["state"] == "passed"
    assert [(r["sequence"], r["conclusion"], r["total_score"]) for r in body["reviews"]] == [
        (1, "rectify", "76.00"), (2, "passed", "84.00")]
    assert body["is_demo"] is True and body["demo_label"] is not None  # the pilot is demo data, so is its result

    pilot.refresh_from_db()
    assert pilot.state == "accepted"
    assert list(pilot.state_changes.values_list("state", "effective_on")) == [
        ("designated", dt.date(2022, 6, 10)), ("accepted", dt.date(2024, 11, 15))]
    with on("2024-12-01"):
        rows = world["viewer"].get(ACCEPTANCES, {"as_of": "2024-09-01"}).json()["results"]
    assert [r["state_as_of"] for r in rows] == ["rectifying"]


def test_a_failed_acceptance_is_revoked_and_the_pilot_follows(world):
    _url, pilot = designated(world)
    with on("2024-07-05"):
        response = world["office"].post(ACCEPTANCES, {"pilot": pilot.pk, "self_assessment": "自评"}, format="json")
    url = f"{ACCEPTANCES}{response.json()['id']}/"
    response = step(world["reviewer"], url, "review", {"experts": ["张专家"], "scores": ACCEPTANCE_SCORES,
                                                       "conclusion": "failed"}, "2024-08-01")
    assert response.status_code == 400 and error_fields(response) == {"findings"}  # failed needs findings
    response = step(world["reviewer"], url, "review", {"experts": ["张专家"], "scores": ACCEPTANCE_SCORES,
                                                       "conclusion": "failed", "findings": "主要任务未完成"},
                    "2024-08-01")
    assert response.status_code == 200
    pilot.refresh_from_db()
    assert pilot.state == "failed_acceptance"
    response = step(world["reviewer"], url, "revoke", {"reason": "验收未通过,撤销命名"}, "2024-09-01")
    assert response.status_code == 200 and response.json()["state"] == "revoked"
    pilot.refresh_from_db()
    assert pilot.state == "revoked"
    assert [s for s, _d in pilot.state_changes.values_list("state", "effective_on")] == [
        "designated", "failed_acceptance", "revoked"]


# --- Bad input: a clear 4xx, nothing written ---------------------------------------------------------


def test_an_application_outside_the_rounds_dates_is_refused(world):
    round_ = open_round(world)
    response = file_application(world, round_["id"], day="2022-05-01")
    assert response.status_code == 400 and error_fields(response) == {"round"}
    assert not PilotApplication.objects.exists() and not ApplicationStep.objects.exists()


def test_an_office_files_only_for_its_own_counties_and_acts_only_on_its_own(world):
    round_ = open_round(world)
    response = file_application(world, round_["id"], county="510502", name="泸州市江阳区")
    assert response.status_code == 400 and error_fields(response) == {"county_code"}
    url = f"{APPLICATIONS}{file_application(world, round_['id']).json()['id']}/"
    with on("2022-04-20"):
        assert world["luzhou_office"].get(url).status_code == 404
        response = world["luzhou_office"].post(f"{url}recommend/", {"rank": 1, "opinion": "推荐"}, format="json",
                                               HTTP_IF_MATCH='"1.1"')
    assert response.status_code == 404
    assert PilotApplication.objects.get().state == "applied"


def test_a_recommendation_over_quota_is_refused(world):
    round_ = open_round(world)
    first = f"{APPLICATIONS}{file_application(world, round_['id']).json()['id']}/"
    second = f"{APPLICATIONS}{file_application(world, round_['id'], county='510113', name='青白江区').json()['id']}/"
    assert step(world["office"], first, "recommend", {"rank": 1, "opinion": "推荐"}, "2022-04-20").status_code == 200
    response = step(world["office"], second, "recommend", {"rank": 2, "opinion": "推荐"}, "2022-04-20")
    assert response.status_code == 400 and error_fields(response) == {"rank"}
    assert "名额" in response.json()["errors"][0]["message"]  # zh-hans, the default language
    assert PilotApplication.objects.get(county_code="510113").state == "applied"


def test_scores_out_of_range_and_a_rejection_without_findings_are_refused(world):
    round_ = open_round(world)
    url = f"{APPLICATIONS}{file_application(world, round_['id']).json()['id']}/"
    step(world["office"], url, "recommend", {"rank": 1, "opinion": "推荐"}, "2022-04-20")
    response = step(world["reviewer"], url, "review", {"reviewers": ["张专家"], "scores": {
        "basis": "31", "plan": "-1", "bonus": "5"}, "conclusion": "fail"}, "2022-05-20")
    assert response.status_code == 400
    assert error_fields(response) == {"scores.basis", "scores.plan", "scores.support", "scores.bonus", "findings"}
    application = PilotApplication.objects.get()
    assert (application.state, application.version, application.steps.count()) == ("recommended", 2, 2)


def test_a_step_out_of_order_is_a_conflict_and_if_match_is_required(world):
    round_ = open_round(world)
    url = f"{APPLICATIONS}{file_application(world, round_['id']).json()['id']}/"
    response = step(world["reviewer"], url, "notice", {"starts_on": "2022-04-01", "ends_on": "2022-04-07"},
                    "2022-04-20")
    assert response.status_code == 409
    with on("2022-04-20"):
        response = world["office"].post(f"{url}recommend/", {"rank": 1, "opinion": "推荐"}, format="json")
    assert response.status_code == 428
    response = step(world["office"], url, "recommend", {"rank": 1, "opinion": "推荐"}, "2022-04-20")
    with on("2022-04-21"):
        response = world["office"].post(f"{url}recommend/", {"rank": 1, "opinion": "推荐"}, format="json",
                                        HTTP_IF_MATCH=response["ETag"])
    assert response.status_code == 409  # recommended once only
    assert PilotApplication.objects.get().steps.count() == 2


def test_a_step_cannot_take_effect_in_the_future_or_before_the_previous_one(world):
    round_ = open_round(world)
    url = f"{APPLICATIONS}{file_application(world, round_['id']).json()['id']}/"
    step(world["office"], url, "recommend", {"rank": 1, "opinion": "推荐"}, "2022-04-20")
    body = {"reviewers": ["张专家"], "scores": GOOD_SCORES, "conclusion": "pass"}
    response = step(world["reviewer"], url, "review", {**body, "reviewed_on": "2022-06-01"}, "2022-05-20")
    assert response.status_code == 400 and error_fields(response) == {"reviewed_on"}
    response = step(world["reviewer"], url, "review", {**body, "reviewed_on": "2022-04-01"}, "2022-05-20")
    assert response.status_code == 400 and error_fields(response) == {"reviewed_on"}


def test_designation_waits_for_the_end_of_the_notice(world):
    round_ = open_round(world)
    url = f"{APPLICATIONS}{file_application(world, round_['id']).json()['id']}/"
    step(world["office"], url, "recommend", {"rank": 1, "opinion": "推荐"}, "2022-04-20")
    step(world["reviewer"], url, "review", {"reviewers": ["张专家"], "scores": GOOD_SCORES, "conclusion": "pass"},
         "2022-05-20")
    step(world["reviewer"], url, "notice", {"starts_on": "2022-06-01", "ends_on": "2022-06-07"}, "2022-06-01")
    response = step(world["reviewer"], url, "designate", {"designated_on": "2022-06-05"}, "2022-06-05")
    assert response.status_code == 400 and error_fields(response) == {"designated_on"}
    assert not Pilot.objects.exists()
    response = step(world["reviewer"], url, "decline", {"reason": "公示期间异议成立", "objections": "群众反映……"},
                    "2022-06-08")
    assert response.status_code == 200 and response.json()["state"] == "declined"


def test_a_rectification_is_re_reviewed_once_and_needs_its_date(world):
    _url, pilot = designated(world)
    with on("2024-07-05"):
        url = f"{ACCEPTANCES}{world['office'].post(ACCEPTANCES, {'pilot': pilot.pk, 'self_assessment': '自评'}, format='json').json()['id']}/"
    base = {"experts": ["张专家"], "scores": ACCEPTANCE_SCORES, "findings": "不足"}
    response = step(world["reviewer"], url, "review", {**base, "conclusion": "rectify"}, "2024-08-01")
    assert response.status_code == 400 and error_fields(response) == {"rectify_by"}
    step(world["reviewer"], url, "review", {**base, "conclusion": "rectify", "rectify_by": "2024-10-31"}, "2024-08-01")
    step(world["office"], url, "rectification", {"report": "已整改"}, "2024-10-20")
    response = step(world["reviewer"], url, "review", {**base, "conclusion": "rectify", "rectify_by": "2025-01-31"},
                    "2024-11-15")
    assert response.status_code == 400 and error_fields(response) == {"conclusion"}
    assert Acceptance.objects.get().reviews.count() == 1


def test_a_pilot_of_another_prefecture_cannot_be_put_up_for_acceptance(world):
    pilot = PilotFactory(programme=world["programme"], prefecture=world["chengdu"], code="510108")
    with on("2023-02-01"):
        response = world["luzhou_office"].post(ACCEPTANCES, {"pilot": pilot.pk, "self_assessment": "自评"},
                                               format="json")
    assert response.status_code == 400 and error_fields(response) == {"pilot"}  # no such pilot for 泸州
    assert not Acceptance.objects.exists()


def test_a_document_is_checked_by_content(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    round_ = open_round(world)
    url = f"{APPLICATIONS}{file_application(world, round_['id']).json()['id']}/"
    response = upload(world["office"], url, "申报书.pdf", b"MZ\x90\x00 not a pdf", "application_form", "2022-03-11")
    assert response.status_code == 400 and error_fields(response) == {"file"}
    response = upload(world["office"], url, "申报书.pdf", PDF, "self_assessment", "2022-03-11")
    assert response.status_code == 400 and error_fields(response) == {"kind"}
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    assert upload(world["office"], url, "实施方案.docx", archive.getvalue(), "plan", "2022-03-11").status_code == 201
    assert LifecycleDocument.objects.count() == 1
    with on("2022-03-12"):
        document = world["viewer"].get(f"{url}documents/").json()[0]
        response = world["viewer"].get(f"{url}documents/{document['id']}/")
    assert response.status_code == 200 and response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml")


def test_a_retried_filing_with_the_same_key_files_once(world):
    round_ = open_round(world)
    first = file_application(world, round_["id"])
    with on("2022-03-10"):
        again = world["office"].post(APPLICATIONS, {
            "round": round_["id"], "county_code": "510113", "name_zh": "青白江区", "plan_summary": "方案",
            "construction_start": "2022-07-01", "construction_end": "2024-06-30"}, format="json",
            HTTP_IDEMPOTENCY_KEY="k-1")
        replay = world["office"].post(APPLICATIONS, {
            "round": round_["id"], "county_code": "510113", "name_zh": "青白江区", "plan_summary": "方案",
            "construction_start": "2022-07-01", "construction_end": "2024-06-30"}, format="json",
            HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true" and replay.json()["id"] == again.json()["id"]
    assert PilotApplication.objects.count() == 2


def test_a_round_is_one_per_programme_and_year_with_sound_criteria(world):
    open_round(world)
    with on("2022-02-21"):
        response = world["reviewer"].post(ROUNDS, {
            "programme": world["programme"].pk, "year": 2022, "title": "重复", "guide_title": "指南",
            "opens_on": "2022-05-01", "closes_on": "2022-04-01",
            "selection_criteria": [{"code": "a", "name_zh": "甲", "max_score": "50"},
                                   {"code": "a", "name_zh": "乙", "max_score": "50"}]}, format="json")
        assert response.status_code == 400
        assert error_fields(response) == {"year", "closes_on", "selection_criteria"}
        assert world["office"].post(ROUNDS, {}, format="json").status_code == 403
    assert ApplicationRound.objects.count() == 1


def test_the_2020_batch_stays_a_fact_untouched_by_the_records(world):
    """The real 2020 pilots (designated 2021-01-22) are loaded as facts; no application record is invented."""
    pilot = PilotFactory(programme=world["programme"], prefecture=world["chengdu"], code="510108",
                         designated_on=dt.date(2021, 1, 22), source_note="四川省经济和信息化厅办公室 2021-01-22")
    PilotStateChange.objects.create(pilot=pilot, state="designated", effective_on=dt.date(2021, 1, 22))
    assert not PilotApplication.objects.exists()
    with on("2023-02-01"):
        response = world["office"].post(ACCEPTANCES, {"pilot": pilot.pk, "self_assessment": "自评"}, format="json")
    assert response.status_code == 201
    assert response.json()["is_demo"] is False  # a result recorded by the province here is its own record


def test_the_admin_shows_the_records_read_only(world, client):
    _url, pilot = designated(world)
    with on("2024-07-05"):
        world["office"].post(ACCEPTANCES, {"pilot": pilot.pk, "self_assessment": "自评"}, format="json")
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    client.force_login(get_user_model().objects.create_superuser("lifecycle-admin", "a@example.org", "x"))
    for model in (ApplicationRound, PilotApplication, Acceptance):
        info = (model._meta.app_label, model._meta.model_name)
        assert client.get(reverse("admin:%s_%s_changelist" % info)).status_code == 200
        assert client.get(reverse("admin:%s_%s_change" % info, args=[model.objects.get().pk])).status_code == 200
    assert client.get(reverse("admin:pilots_pilotapplication_add")).status_code == 403


def test_the_lists_take_as_many_queries_for_many_records_as_for_one(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    round_ = open_round(world, quotas=[])
    file_application(world, round_["id"])

    def queries(url, params):
        with on("2022-04-01"), CaptureQueriesContext(connection) as captured:
            response = world["viewer"].get(url, params)
        assert response.status_code == 200, response.json()
        return len(captured), response.json()["count"]

    queries(ROUNDS, {})  # the token's first use of the day records itself once
    one = queries(APPLICATIONS, {"as_of": "2022-03-31"})
    for county in ("510113", "510114", "510115"):
        file_application(world, round_["id"], county=county, name=f"县{county}")
    many = queries(APPLICATIONS, {"as_of": "2022-03-31"})
    assert (one[1], many[1]) == (1, 4) and one[0] == many[0]
    assert queries(ROUNDS, {})[0] == queries(ROUNDS, {"year": 2022})[0]
