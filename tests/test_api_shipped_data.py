"""What a newcomer sees through the API after `bootstrap --demo`: the shipped facts, and their own scope."""

import pytest
from django.conf import settings
from django.core.management import call_command
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

BATCH_2020 = {"510108", "510402", "510502", "510821", "511381", "511526", "511724", "511803", "511421", "513426"}


@pytest.fixture
def demo(tmp_path):
    with open(tmp_path / "out.txt", "w") as out:
        call_command("bootstrap", "--demo", stdout=out)


def signed_in(username):
    client = APIClient()
    key = client.post("/api/v1/auth/token/", {"username": username, "password": settings.DEMO_PASSWORD},
                      format="json").json()["key"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_the_api_reports_the_programme_as_the_guideline_sets_it(demo):
    api = signed_in("viewer")

    programmes = api.get("/api/v1/programmes/").json()["results"]
    assert [(p["document_number"], p["goal_pilot_count"], p["goal_deadline"]) for p in programmes] == [
        ("川数字经济办〔2020〕3号", 30, "2022-12-31"), ("发改数据〔2024〕660号", 0, "2027-12-31")]
    tasks = api.get("/api/v1/tasks/", {"programme": "sc-2020-3"}).json()
    assert tasks["count"] == 7
    assert sum(len(t["subtasks"]) for t in tasks["results"]) == 17
    assert api.get("/api/v1/subtasks/", {"programme": "sc-2020-3"}).json()["count"] == 17
    assert api.get("/api/v1/prefectures/").json()["count"] == 21
    real_2020 = api.get("/api/v1/pilots/", {"batch": 2020, "demo": "false", "page_size": 100}).json()
    assert {p["code"] for p in real_2020["results"]} == BATCH_2020


def test_a_demo_reporter_sees_exactly_its_prefectures_pilots(demo):
    everyone = signed_in("viewer").get("/api/v1/pilots/", {"page_size": 100}).json()["results"]
    chengdu = [p["code"] for p in everyone if p["prefecture"]["code"] == "510100"]

    mine = signed_in("pref-510100").get("/api/v1/pilots/", {"page_size": 100}).json()

    assert mine["count"] == len(chengdu) >= 1
    assert sorted(p["code"] for p in mine["results"]) == sorted(chengdu)
    assert "510108" in chengdu  # 成都市成华区, 2020 batch


def test_demo_pilots_are_labelled_in_the_api(demo):
    demo_pilots = signed_in("viewer").get("/api/v1/pilots/", {"demo": "true", "page_size": 100}).json()

    assert demo_pilots["count"] == 20
    assert all(p["demo_label"]["en"].startswith("Demo data") for p in demo_pilots["results"])


def test_the_2024_programme_loads_beside_the_2020_one_and_the_province_figures_still_mean_2020(demo):
    api = signed_in("viewer")

    tasks = api.get("/api/v1/tasks/", {"programme": "sc-2024-660"}).json()["results"]
    assert [(t["code"], len(t["subtasks"])) for t in tasks] == [("Q2", 7), ("Q3", 2), ("Q4", 3)]
    assert tasks[0]["subtasks"][0]["name_zh"] == "建立城市数字化共性基础"
    assert all(a["basis"] == "default" for t in tasks for s in t["subtasks"] for a in s["assignments"])
    assert api.get("/api/v1/indicators/", {"programme": "sc-2024-660"}).json()["count"] == 6
    # The demo pilots and their figures stay on the 2020 programme, which the province card means by default.
    province = api.get("/api/v1/completion/province/")
    assert province.status_code == 200, province.json()
    assert province.json()["programme"] == "sc-2020-3"
    history = {"scope": "province", "page_size": 500}
    assert api.get("/api/v1/completion/history/", history).json()["count"] == api.get(
        "/api/v1/completion/history/", history | {"programme": "sc-2020-3"}).json()["count"] > 0
    assert api.get("/api/v1/pilots/", {"programme": "sc-2024-660"}).json()["count"] == 0
