"""The pilot registry as each kind of office sees it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pilots.models import Pilot
from tests.factories import OrganisationFactory, PilotFactory, PrefectureFactory, UserFactory, member
from tests.helpers import client_for, error_fields

pytestmark = pytest.mark.django_db

URL = "/api/v1/pilots/"


@pytest.fixture
def two_prefectures():
    chengdu = PrefectureFactory(code="510100", name_zh="成都市", name_en="Chengdu")
    luzhou = PrefectureFactory(code="510500", name_zh="泸州市", name_en="Luzhou")
    chenghua = PilotFactory(prefecture=chengdu, code="510108", name_zh="成都市成华区", name_en="Chenghua District")
    jiangyang = PilotFactory(prefecture=luzhou, code="510502", name_zh="泸州市江阳区", name_en="Jiangyang District",
                             programme=chenghua.programme)
    demo = PilotFactory(prefecture=luzhou, code="510521", name_zh="泸县", name_en="Lu County", is_demo=True,
                        batch_year=2021, programme=chenghua.programme)
    return {"chengdu": chengdu, "luzhou": luzhou, "chenghua": chenghua, "jiangyang": jiangyang, "demo": demo}


def reporter_of(prefecture):
    return member("reporter", OrganisationFactory(kind="prefecture", prefecture=prefecture))


def test_a_prefecture_reporter_sees_only_its_own_pilots(two_prefectures):
    client = client_for(reporter_of(two_prefectures["chengdu"]))

    body = client.get(URL).json()

    assert body["count"] == 1
    assert [p["code"] for p in body["results"]] == ["510108"]


def test_another_prefectures_pilot_does_not_exist_for_a_reporter(two_prefectures):
    client = client_for(reporter_of(two_prefectures["chengdu"]))

    response = client.get(f"{URL}{two_prefectures['jiangyang'].pk}/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_province_sees_every_pilot_with_both_language_names(two_prefectures):
    client = client_for(member("viewer"))

    body = client.get(URL).json()

    assert body["count"] == 3
    chenghua = next(p for p in body["results"] if p["code"] == "510108")
    assert chenghua["name_zh"] == "成都市成华区"
    assert chenghua["name_en"] == "Chenghua District"
    assert chenghua["prefecture"] == {
        "id": two_prefectures["chengdu"].pk, "code": "510100", "name_zh": "成都市", "name_en": "Chengdu"
    }


def test_demo_pilots_are_flagged_and_labelled(two_prefectures):
    client = client_for(member("viewer"))

    results = client.get(URL, {"demo": "true"}).json()["results"]

    assert [p["code"] for p in results] == ["510521"]
    assert results[0]["is_demo"] is True
    assert results[0]["demo_label"]["zh"].startswith("演示数据")
    real = client.get(URL, {"demo": "false"}).json()["results"]
    assert all(p["demo_label"] is None for p in real)


@pytest.mark.parametrize(
    "params, codes",
    [
        ({"prefecture": "510500"}, ["510502", "510521"]),
        ({"batch": "2021"}, ["510521"]),
        ({"state": "designated"}, ["510108", "510502", "510521"]),
        ({"state": "revoked"}, []),
        ({"search": "成华"}, ["510108"]),
        ({"search": "510502"}, ["510502"]),
        ({"search": "jiangyang"}, ["510502"]),
    ],
)
def test_the_province_filters_and_searches_pilots(two_prefectures, params, codes):
    client = client_for(member("viewer"))

    results = client.get(URL, params).json()["results"]

    assert sorted(p["code"] for p in results) == codes


def test_an_unknown_filter_is_an_error_naming_it(two_prefectures):
    response = client_for(member("viewer")).get(URL, {"prefecure": "510100"})

    assert response.status_code == 400
    assert error_fields(response) == {"prefecure"}
    assert response.json()["errors"][0]["code"] == "unknown_parameter"


def test_an_invalid_filter_value_is_an_error_naming_the_filter(two_prefectures):
    response = client_for(member("viewer")).get(URL, {"state": "finished", "batch": "twenty"})

    assert response.status_code == 400
    assert error_fields(response) == {"state", "batch"}


@pytest.mark.parametrize("page_size", ["0", "501", "-3", "lots"])
def test_an_impossible_page_size_is_an_error(two_prefectures, page_size):
    response = client_for(member("viewer")).get(URL, {"page_size": page_size})

    assert response.status_code == 400
    assert error_fields(response) == {"page_size"}


@pytest.mark.parametrize("bad_id", ["abc", "-1", "99999999999999999999999", "1.5"])
def test_a_malformed_pilot_id_is_a_json_404(two_prefectures, bad_id):
    response = client_for(member("viewer")).get(f"{URL}{bad_id}/")

    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_an_anonymous_caller_is_asked_to_authenticate(two_prefectures):
    response = client_for(None).get(URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["code"] == "not_authenticated"


def test_a_user_without_an_organisation_is_refused(two_prefectures):
    response = client_for(UserFactory()).get(URL, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 403
    assert "organisation" in response.json()["detail"]


def test_listing_pilots_costs_the_same_queries_for_one_row_or_many():
    viewer = client_for(member("viewer"))
    viewer.get(URL)  # the token's first use records last_used_at; measure the steady state
    PilotFactory()
    with CaptureQueriesContext(connection) as one_row:
        assert viewer.get(URL).json()["count"] == 1
    PilotFactory.create_batch(25)
    with CaptureQueriesContext(connection) as many_rows:
        assert viewer.get(URL).json()["count"] == 26

    assert len(many_rows) == len(one_row)


def test_pilots_are_read_only_through_the_api(two_prefectures):
    client = client_for(member("admin", OrganisationFactory()), can_write=True)

    response = client.post(URL, {"code": "510104"}, format="json")

    assert response.status_code == 405
    assert Pilot.objects.count() == 3
