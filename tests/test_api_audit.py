"""The province reads the audit trail: who changed what, when, through which door; nobody edits it."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from smartcity.models import AuditEntry
from tests.factories import OrganisationFactory, PilotFactory, PrefectureFactory, SubTaskFactory, TaskFactory, member
from tests.helpers import client_for, error_fields

pytestmark = pytest.mark.django_db

URL = "/api/v1/audit/"
REPORTS = "/api/v1/reports/"
TODAY = dt.datetime(2021, 10, 15, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
REQUEST_ID = "clerk-filing-000042"


@pytest.fixture(autouse=True)
def mid_october_2021():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def world():
    task = TaskFactory(code="T4")
    subtask = SubTaskFactory(task=task, code="T4.1")
    chengdu = PrefectureFactory(code="510100", name_zh="成都市")
    chenghua = PilotFactory(programme=task.programme, prefecture=chengdu, code="510108", name_zh="成都市成华区")
    province = OrganisationFactory(code="province")
    chengdu_office = OrganisationFactory(kind="prefecture", prefecture=chengdu)
    return {
        "subtask": subtask, "chenghua": chenghua,
        "office": client_for(member("reporter", chengdu_office, username="pref-510100"), can_write=True),
        "office_viewer": client_for(member("viewer", chengdu_office)),
        "reviewer": client_for(member("reviewer", province), can_write=True),
        "admin": client_for(member("admin", province), can_write=True),
        "viewer": client_for(member("viewer", province)),
        "integrator": client_for(member("integrator")),
    }


def file_report(world, request_id=REQUEST_ID, period="2021Q3"):
    body = {"pilot": world["chenghua"].pk, "subtask": world["subtask"].pk, "period": period,
            "percent_complete": "45.0", "status": "on_track", "narrative": "二期平台上线。", "submit": True}
    response = world["office"].post(REPORTS, body, format="json", HTTP_X_REQUEST_ID=request_id)
    assert response.status_code == 201, response.json()
    return response.json()["report"]


# --- The province reads ----------------------------------------------------------------------

def test_the_province_reads_what_one_request_changed(world):
    report = file_report(world)
    file_report(world, request_id="clerk-filing-000043", period="2021Q2")

    response = world["reviewer"].get(URL, {"request_id": REQUEST_ID})

    assert response.status_code == 200
    entries = response.json()["results"]
    assert [e["action"] for e in entries] == ["submit", "create"]  # newest first
    submit = entries[0]
    assert (submit["object_type"], submit["object_id"]) == ("pilots.progressreport", str(report["id"]))
    assert (submit["actor"], submit["via"], submit["request_id"]) == ("pref-510100", "token", REQUEST_ID)
    assert submit["token_prefix"].startswith("sct_")
    assert submit["before"]["state"] == "draft" and submit["after"]["state"] == "submitted"
    assert entries[1]["before"] is None and entries[1]["after"]["percent_complete"] == "45.0"
    assert set(submit) == {"id", "at", "actor", "via", "token_prefix", "request_id", "action", "object_type",
                           "object_id", "object_repr", "before", "after"}


def test_the_province_reads_one_objects_history(world):
    report = file_report(world)
    other = file_report(world, request_id="clerk-filing-000043", period="2021Q2")
    admin = world["admin"]

    history = admin.get(URL, {"object_type": "pilots.progressreport", "object_id": report["id"]}).json()

    assert [e["action"] for e in history["results"]] == ["submit", "create"]
    assert {e["object_id"] for e in history["results"]} == {str(report["id"])}
    one = admin.get(f"{URL}{history['results'][0]['id']}/")
    assert one.status_code == 200 and one.json()["action"] == "submit"
    assert admin.get(URL, {"object_type": "pilots.progressreport", "object_id": other["id"]}).json()["count"] == 2


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"actor": "pref-510100"}, 4),
        ({"actor": "nobody"}, 0),
        ({"action": "submit"}, 2),
        ({"via": "token"}, 4),
        ({"via": "admin"}, 0),
        ({"object_type": "pilots.progressreport", "action": "create"}, 2),
        ({"at_from": "2021-10-15T10:00:00+08:00"}, 4),
        ({"at_from": "2021-10-15T10:00:01+08:00"}, 0),
        ({"at_to": "2021-10-15T09:59:59+08:00"}, 0),
        ({"at_from": "2021-10-15T00:00:00+08:00", "at_to": "2021-10-15T23:59:59+08:00", "action": "create"}, 2),
    ],
)
def test_the_province_filters_the_trail(world, params, expected):
    file_report(world)
    file_report(world, request_id="clerk-filing-000043", period="2021Q2")

    response = world["reviewer"].get(URL, {"object_type": "pilots.progressreport"} | params)

    assert response.status_code == 200, response.json()
    assert response.json()["count"] == expected


@pytest.mark.parametrize("params, field", [
    ({"at_from": "yesterday"}, "at_from"),
    ({"via": "carrier-pigeon"}, "via"),
    ({"user": "pref-510100"}, "user"),
])
def test_a_bad_filter_names_itself(world, params, field):
    response = world["reviewer"].get(URL, params)

    assert response.status_code == 400 and error_fields(response) == {field}


def test_listing_the_trail_costs_the_same_queries_for_one_entry_or_many(world):
    reviewer, reports = world["reviewer"], {"object_type": "pilots.progressreport", "page_size": 100}
    reviewer.get(URL)  # the token's first use records last_used_at; measure the steady state
    file_report(world)
    with CaptureQueriesContext(connection) as few:
        assert reviewer.get(URL, reports).json()["count"] == 2
    file_report(world, request_id="clerk-filing-000043", period="2021Q2")
    file_report(world, request_id="clerk-filing-000044", period="2021Q1")

    with CaptureQueriesContext(connection) as many:
        assert reviewer.get(URL, reports).json()["count"] == 6

    assert len(many) == len(few)


# --- Everyone else is refused ----------------------------------------------------------------

@pytest.mark.parametrize("who", ["office", "office_viewer", "viewer", "integrator"])
def test_only_the_province_reviewers_and_administrators_read_the_trail(world, who):
    file_report(world)
    entry = AuditEntry.objects.first()
    client = world[who]

    assert client.get(URL).status_code == 403
    assert client.get(URL, {"request_id": REQUEST_ID}).status_code == 403
    assert client.get(f"{URL}{entry.pk}/").status_code == 403


def test_an_anonymous_caller_is_asked_to_authenticate(world):
    assert client_for(None).get(URL).status_code == 401


@pytest.mark.parametrize("who", ["admin", "reviewer", "office"])
def test_nobody_writes_the_trail_through_the_api(world, who):
    file_report(world)
    entry = AuditEntry.objects.order_by("id").first()
    client = world[who]
    before = list(AuditEntry.objects.order_by("id").values())
    detail = f"{URL}{entry.pk}/"

    responses = [
        client.post(URL, {"action": "forged", "object_type": "x", "object_id": "1"}, format="json"),
        client.put(detail, {"action": "forged"}, format="json"),
        client.patch(detail, {"action": "forged"}, format="json"),
        client.delete(detail),
    ]

    assert [r.status_code for r in responses] == [405] * 4
    assert list(AuditEntry.objects.order_by("id").values()) == before


# --- PostgreSQL: the table itself is append-only ---------------------------------------------

@pytest.mark.postgres
def test_the_database_refuses_to_update_or_delete_audit_entries(world):
    file_report(world)
    entry = AuditEntry.objects.filter(object_type="pilots.progressreport", action="create").get()
    count = AuditEntry.objects.count()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(action="forged")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE smartcity_auditentry SET after = NULL WHERE id = %s", [entry.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        # Even the one permitted UPDATE (clearing the actor) is refused when it changes anything else.
        AuditEntry.objects.filter(pk=entry.pk).update(actor=None, actor_username="someone-else")

    entry.refresh_from_db()
    assert entry.action == "create" and entry.after is not None and entry.actor_username == "pref-510100"
    assert AuditEntry.objects.count() == count


@pytest.mark.postgres
def test_deleting_a_user_keeps_their_entries_with_their_name(world):
    file_report(world)
    user = get_user_model().objects.get(username="pref-510100")

    user.delete()

    entries = AuditEntry.objects.filter(object_type="pilots.progressreport")
    assert entries.count() == 2
    assert {(e.actor_id, e.actor_username) for e in entries} == {(None, "pref-510100")}
