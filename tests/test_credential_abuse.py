"""Guessing passwords and hammering the API are stopped, and no secret reaches the logs."""

import logging

import pytest
from django.test import Client
from rest_framework.test import APIClient

from smartcity.models import ApiToken
from tests.factories import PASSWORD, member
from tests.helpers import client_for

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


def sign_in(password, username="pref-510100", address="10.0.0.1"):
    return APIClient(REMOTE_ADDR=address).post(TOKEN_URL, {"username": username, "password": password},
                                               format="json")


def test_five_wrong_passwords_lock_the_name_out_even_for_the_right_one(settings):
    member("reporter", username="pref-510100")

    failures = [sign_in("guess-%d" % n).status_code for n in range(settings.LOGIN_LOCKOUT_THRESHOLD)]
    locked = sign_in(PASSWORD)

    assert failures == [401] * settings.LOGIN_LOCKOUT_THRESHOLD
    assert locked.status_code == 429
    assert locked.json()["code"] == "throttled" and int(locked["Retry-After"]) > 0
    assert ApiToken.objects.count() == 0


def test_a_lockout_from_one_address_does_not_lock_the_clerk_out_elsewhere(settings):
    member("reporter", username="pref-510100")
    for n in range(settings.LOGIN_LOCKOUT_THRESHOLD):
        sign_in("guess-%d" % n, address="203.0.113.9")

    assert sign_in(PASSWORD, address="10.0.0.1").status_code == 201


def test_the_admin_sign_in_is_locked_out_too(settings):
    member("admin", username="root-of-province").__class__.objects.filter(username="root-of-province").update(
        is_staff=True, is_superuser=True)
    browser = Client(REMOTE_ADDR="10.0.0.2")
    for n in range(settings.LOGIN_LOCKOUT_THRESHOLD):
        browser.post("/admin/login/", {"username": "root-of-province", "password": f"guess-{n}"})

    browser.post("/admin/login/", {"username": "root-of-province", "password": PASSWORD})

    assert browser.get("/admin/").status_code == 302  # still not signed in


def test_a_token_over_its_rate_is_told_to_wait(settings):
    settings.API_RATE_LIMITS = {"token": "3/min", "ip": None}
    client = client_for(member("viewer"))

    statuses = [client.get("/api/v1/prefectures/").status_code for _ in range(4)]
    refused = client.get("/api/v1/prefectures/")

    assert statuses == [200, 200, 200, 429]
    assert refused.json()["code"] == "throttled" and int(refused["Retry-After"]) > 0


def test_an_address_over_its_rate_is_told_to_wait_whatever_token_it_uses(settings):
    settings.API_RATE_LIMITS = {"token": None, "ip": "2/min"}
    first, second = client_for(member("viewer")), client_for(member("viewer"))

    statuses = [c.get("/api/v1/prefectures/").status_code for c in (first, second, first)]

    assert statuses == [200, 200, 429]


def test_tokens_and_passwords_never_reach_the_logs(caplog):
    member("reporter", username="pref-510100")
    caplog.set_level(logging.DEBUG)

    key = sign_in(PASSWORD).json()["key"]
    sign_in("a-wrong-secret-password")
    APIClient().get("/api/v1/pilots/", HTTP_AUTHORIZATION=f"Bearer {key}")
    APIClient().get("/api/v1/pilots/", HTTP_AUTHORIZATION="Bearer sct_not-a-real-key")

    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (key, PASSWORD, "a-wrong-secret-password", "sct_not-a-real-key"):
        assert secret not in logged
