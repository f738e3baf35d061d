"""Every error, whatever its cause, has the same JSON shape and names the request."""

import pytest
from rest_framework.test import APIClient

from tests.factories import member
from tests.helpers import client_for

pytestmark = pytest.mark.django_db

SHAPE = {"status", "code", "detail", "errors", "request_id"}


@pytest.mark.parametrize(
    "path, status",
    [
        ("/api/v1/no-such-endpoint/", 404),
        ("/api/v1/pilots/not-a-number/", 404),
        ("/api/v1/pilots/?page=999", 404),
        ("/api/v1/pilots/?ordering=secret_field", 400),
        ("/api/v1/tasks/?pillar_kind=everything", 400),
    ],
)
def test_errors_share_one_shape(path, status):
    response = client_for(member("viewer")).get(path)

    assert response.status_code == status
    body = response.json()
    assert set(body) == SHAPE
    assert body["status"] == status
    assert body["request_id"] == response["X-Request-ID"]


def test_every_response_carries_a_request_id_and_echoes_a_well_formed_one():
    client = APIClient()

    generated = client.get("/healthz")
    echoed = client.get("/healthz", HTTP_X_REQUEST_ID="gateway-trace-0001")
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID="<script>alert(1)</script>")

    assert len(generated["X-Request-ID"]) == 32
    assert echoed["X-Request-ID"] == "gateway-trace-0001"
    assert replaced["X-Request-ID"] != "<script>alert(1)</script>"


def test_a_request_body_that_is_not_json_is_a_400():
    response = APIClient().post(
        "/api/v1/auth/token/", data="username=a&password=b", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_malformed_json_is_a_400():
    response = APIClient().post("/api/v1/auth/token/", data="{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_error_messages_follow_the_requested_language():
    chinese = APIClient().get("/api/v1/pilots/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    english = APIClient().get("/api/v1/pilots/", HTTP_ACCEPT_LANGUAGE="en")

    assert chinese.json()["detail"] != english.json()["detail"]
    assert english.json()["detail"] == "Authentication credentials were not provided."
