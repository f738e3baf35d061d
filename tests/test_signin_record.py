"""Every sign-in is on record: the province reads who tried, from where, and why it failed; nobody edits it."""

import datetime as dt

import pytest
import time_machine
from django.db import DatabaseError, connection, transaction
from django.test import Client
from rest_framework.test import APIClient

from smartcity.models import AuditEntry, LoginLockout, SignInEvent
from smartcity.retention import retention_purge
from tests.factories import PASSWORD, OrganisationFactory, PrefectureFactory, member
from tests.helpers import client_for, error_fields

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/sign-ins/"
LOCKOUTS = "/api/v1/auth/lockouts/"
TOKEN_URL = "/api/v1/auth/token/"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Chromium/130"
CLERK_ADDRESS = "203.0.113.7"


@pytest.fixture
def world():
    chengdu = OrganisationFactory(kind="prefecture", prefecture=PrefectureFactory(code="510100", name_zh="成都市"))
    luzhou = OrganisationFactory(kind="prefecture", prefecture=PrefectureFactory(code="510500", name_zh="泸州市"))
    province = OrganisationFactory(code="province")
    return {
        "clerk": member("reporter", chengdu, username="pref-510100"),
        "luzhou_clerk": member("reporter", luzhou, username="pref-510500"),
        "chengdu": chengdu, "luzhou": luzhou, "province": province,
        "province_admin": client_for(member("admin", province, username="sheng-admin"), can_write=True),
        "reviewer": client_for(member("reviewer", province, username="sheng-shenhe")),
        "chengdu_admin": client_for(member("admin", chengdu, username="chengdu-admin"), can_write=True),
        "viewer": client_for(member("viewer", province)),
    }


def dashboard_sign_in(username, password, address=CLERK_ADDRESS):
    browser = Client(REMOTE_ADDR=address, HTTP_USER_AGENT=BROWSER)
    response = browser.post("/accounts/login/", {"username": username, "password": password})
    return browser, response


def token_exchange(username, password, address=CLERK_ADDRESS, **extra):
    return APIClient(REMOTE_ADDR=address, HTTP_USER_AGENT="curl/8.5").post(
        TOKEN_URL, {"username": username, "password": password, **extra}, format="json")


def listed(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_a_wrong_password_at_the_sign_in_page_is_recorded_with_the_name_address_and_browser(world):
    _browser, response = dashboard_sign_in("pref-510100", "not-my-password")

    assert response.status_code == 200  # the form again, with its error
    [row] = listed(world["province_admin"])
    assert row["event"] == "sign_in" and row["via"] == "dashboard"
    assert row["result"] == "failure" and row["reason"] == "wrong_password"
    assert row["username"] == "pref-510100" and row["user"] == "pref-510100"
    assert row["organisation_id"] == world["chengdu"].pk
    assert row["address"] == CLERK_ADDRESS and row["user_agent"] == BROWSER
    assert row["at"].endswith("+08:00")


def test_a_sign_in_and_a_sign_out_are_recorded(world):
    browser, response = dashboard_sign_in("pref-510100", PASSWORD)
    assert response.status_code == 302
    browser.post("/accounts/logout/")

    rows = listed(world["province_admin"], user="pref-510100")
    assert [(r["event"], r["result"]) for r in rows] == [("sign_out", "success"), ("sign_in", "success")]


@pytest.mark.parametrize(("username", "password", "reason", "user"), [
    ("nobody-here", PASSWORD, "unknown_user", None),
    ("pref-510100", "wrong-password-1", "wrong_password", "pref-510100"),
])
def test_a_failed_token_exchange_says_why(world, username, password, reason, user):
    assert token_exchange(username, password).status_code == 401

    [row] = listed(world["province_admin"])
    assert (row["event"], row["via"], row["result"], row["reason"]) == ("token", "api", "failure", reason)
    assert row["username"] == username and row["user"] == user and row["user_agent"] == "curl/8.5"


def test_a_deactivated_account_is_recorded_as_inactive_not_as_a_wrong_password(world):
    world["clerk"].is_active = False
    world["clerk"].save()

    assert token_exchange("pref-510100", PASSWORD).status_code == 401
    dashboard_sign_in("pref-510100", PASSWORD)

    assert [r["reason"] for r in listed(world["province_admin"])] == ["inactive", "inactive"]


def test_a_token_exchange_and_its_revocation_are_recorded_and_never_hold_the_password_or_the_key(world):
    issued = token_exchange("pref-510100", PASSWORD, can_write=True)
    assert issued.status_code == 201
    key = issued.json()["key"]
    clerk = APIClient(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert clerk.delete(f"/api/v1/auth/tokens/{issued.json()['id']}/").status_code == 204

    rows = listed(world["province_admin"], user="pref-510100")
    assert [(r["event"], r["result"]) for r in rows] == [("token_revoked", "success"), ("token", "success")]
    assert {r["token_prefix"] for r in rows} == {issued.json()["prefix"]}
    stored = repr(list(SignInEvent.objects.values()))
    assert PASSWORD not in stored and key not in stored


def test_an_integrator_at_the_sign_in_page_is_recorded_as_refused(world):
    member("integrator", username="yiwangtongguan")

    _browser, response = dashboard_sign_in("yiwangtongguan", PASSWORD)

    assert response.status_code == 403
    [row] = listed(world["province_admin"], user="yiwangtongguan")
    assert (row["result"], row["reason"]) == ("failure", "api_only")  # and no sign-out for the undone session


def test_five_wrong_passwords_are_a_lockout_that_the_province_lists_and_lifts(world, settings):
    for n in range(settings.LOGIN_LOCKOUT_THRESHOLD):
        dashboard_sign_in("pref-510100", f"guess-{n}")
    assert token_exchange("pref-510100", PASSWORD).status_code == 429  # right password, still refused

    reasons = [r["reason"] for r in listed(world["province_admin"], user="pref-510100")]
    assert reasons == ["locked"] + ["wrong_password"] * settings.LOGIN_LOCKOUT_THRESHOLD
    [lockout] = world["province_admin"].get(LOCKOUTS, {"active": "true"}).json()["results"]
    assert (lockout["username"], lockout["address"], lockout["active"]) == ("pref-510100", CLERK_ADDRESS, True)

    lifted = world["province_admin"].post(f"{LOCKOUTS}{lockout['id']}/lift/")

    assert lifted.status_code == 200 and lifted.json()["active"] is False
    assert lifted.json()["lifted_by"] == "sheng-admin"
    assert world["province_admin"].get(LOCKOUTS, {"active": "true"}).json()["count"] == 0
    assert AuditEntry.objects.filter(object_type="smartcity.loginlockout", action="lift").count() == 1
    assert token_exchange("pref-510100", PASSWORD).status_code == 201
    assert world["province_admin"].post(f"{LOCKOUTS}{lockout['id']}/lift/").status_code == 200  # harmless again
    assert AuditEntry.objects.filter(object_type="smartcity.loginlockout", action="lift").count() == 1


def test_an_office_administrator_reads_its_own_peoples_record_only(world):
    token_exchange("pref-510100", "wrong-password-1")
    token_exchange("pref-510500", "wrong-password-2")
    token_exchange("nobody-here", "wrong-password-3")

    assert {r["username"] for r in listed(world["chengdu_admin"])} == {"pref-510100"}
    assert {r["username"] for r in listed(world["reviewer"])} == {"pref-510100", "pref-510500", "nobody-here"}
    luzhou_row = SignInEvent.objects.get(username="pref-510500")
    assert world["chengdu_admin"].get(f"{URL}{luzhou_row.pk}/").status_code == 404


def test_lockouts_are_the_provinces(world, settings):
    for n in range(settings.LOGIN_LOCKOUT_THRESHOLD):
        token_exchange("pref-510100", f"guess-{n}")
    lockout = LoginLockout.objects.get()

    assert world["chengdu_admin"].get(LOCKOUTS).json()["count"] == 0
    assert world["chengdu_admin"].post(f"{LOCKOUTS}{lockout.pk}/lift/").status_code == 404
    assert world["reviewer"].post(f"{LOCKOUTS}{lockout.pk}/lift/").status_code == 403
    lockout.refresh_from_db()
    assert lockout.lifted_at is None


@pytest.mark.parametrize("who", ["viewer"])
def test_people_outside_the_province_and_office_administration_read_nothing(world, who):
    assert world[who].get(URL).status_code == 403
    assert world[who].get(LOCKOUTS).status_code == 403
    assert client_for(world["clerk"]).get(URL).status_code == 403
    assert APIClient().get(URL).status_code == 401


def test_the_province_filters_the_record_by_user_result_and_time(world):
    with time_machine.travel(dt.datetime(2021, 10, 14, 9, 0, tzinfo=dt.UTC), tick=False):
        token_exchange("pref-510100", "wrong-password-1")
    with time_machine.travel(dt.datetime(2021, 10, 15, 9, 0, tzinfo=dt.UTC), tick=False):
        token_exchange("pref-510100", PASSWORD)
        token_exchange("pref-510500", PASSWORD)
    admin = world["province_admin"]

    assert len(listed(admin, user="PREF-510100")) == 2
    assert [r["result"] for r in listed(admin, user="pref-510100", result="failure")] == ["failure"]
    assert {r["username"] for r in listed(admin, at_from="2021-10-15T00:00:00+08:00")} == {"pref-510100",
                                                                                            "pref-510500"}
    assert [r["reason"] for r in listed(admin, at_to="2021-10-15T00:00:00+08:00")] == ["wrong_password"]


@pytest.mark.parametrize(("params", "field"), [
    ({"result": "maybe"}, "result"), ({"at_from": "yesterday"}, "at_from"), ({"password": "x"}, "password"),
])
def test_a_bad_filter_names_itself(world, params, field):
    response = world["province_admin"].get(URL, params)
    assert response.status_code == 400 and field in error_fields(response)


def test_nobody_writes_the_record_through_the_api(world):
    token_exchange("pref-510100", "wrong-password-1")
    row = SignInEvent.objects.get()
    admin = world["province_admin"]

    assert admin.post(URL, {"username": "forged"}, format="json").status_code == 405
    assert admin.patch(f"{URL}{row.pk}/", {"reason": ""}, format="json").status_code == 405
    assert admin.delete(f"{URL}{row.pk}/").status_code == 405
    assert SignInEvent.objects.get().reason == "wrong_password"


def test_the_retention_purge_drops_rows_past_their_period_only(world, settings):
    with time_machine.travel(dt.datetime(2020, 1, 1, tzinfo=dt.UTC), tick=False):
        token_exchange("pref-510100", "wrong-password-old")
    with time_machine.travel(dt.datetime(2021, 10, 15, tzinfo=dt.UTC), tick=False):
        token_exchange("pref-510100", "wrong-password-new")
        deleted = retention_purge()

    assert deleted["smartcity.SignInEvent"] == 1
    assert list(SignInEvent.objects.values_list("at__year", flat=True)) == [2021]


@pytest.mark.postgres
def test_the_database_refuses_to_update_or_delete_the_record(world):
    token_exchange("pref-510100", "wrong-password-1")
    row = SignInEvent.objects.get()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        SignInEvent.objects.filter(pk=row.pk).update(reason="")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        SignInEvent.objects.filter(pk=row.pk).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE smartcity_signinevent SET user_id = NULL, username = 'x' WHERE id = %s", [row.pk])

    world["clerk"].delete()  # the one UPDATE let through: ON DELETE SET NULL
    row.refresh_from_db()
    assert row.user_id is None and row.username == "pref-510100" and row.reason == "wrong_password"
