"""The working-day calendar the provincial office keeps: days, a year's import, deadlines that follow it.

2027 is not in the calendar (the State Council's notice for 2027 had not been found when this was
written), so its deadlines are provisional until the office enters the year.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command

from pilots.models import Notification, Organisation, ProgressReport, Reminder
from pilots.services.calendar import calendar_year_notices
from pilots.services.reminders import overdue_refresh, reminder_rules_ensure, reminders_sweep
from smartcity.models import AuditEntry, CalendarDay, CalendarNotice, CalendarRevision, CalendarYear, OutboxMessage
from smartcity.workdays import calendar_expire, calendar_known, is_working_day
from tests.factories import (
    OrganisationFactory,
    PilotFactory,
    PrefectureFactory,
    SubTaskFactory,
    TaskFactory,
    member,
)
from tests.helpers import client_for, error_fields

pytestmark = pytest.mark.django_db

CST = dt.timezone(dt.timedelta(hours=8))
QINGMING_2027 = dt.date(2027, 4, 5)  # a Monday; 2027Q1 + 5 days falls on it

ARRANGEMENT_2027 = {
    "year": 2027,
    "source": "《国务院办公厅关于2027年部分节假日安排的通知》(test data, not the real notice)",
    "days": [
        {"date": "2027-01-01", "kind": "holiday", "name": "元旦"},
        {"date": "2027-02-06", "kind": "holiday", "name": "春节"},
        {"date": "2027-02-08", "kind": "holiday", "name": "春节"},
        {"date": "2027-02-09", "kind": "holiday", "name": "春节"},
        {"date": "2027-02-20", "kind": "workday", "name": "春节"},
        {"date": "2027-04-05", "kind": "holiday", "name": "清明节"},
    ],
}


def at(day: str, hour: int = 9, minute: int = 30) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=CST)


@pytest.fixture
def office():
    province = OrganisationFactory(code="province", contact_email="office@province.example")
    return {
        "admin": member("admin", province, email="admin@province.example"),
        "reviewer": member("reviewer", province, email="reviewer@province.example"),
        "viewer": member("viewer", province),
        "province": province,
    }


@pytest.fixture
def world(office):
    task = TaskFactory(code="T4", programme__code="scdc-2020", programme__report_due_days=5,
                       programme__issued_on=dt.date(2026, 7, 1), programme__goal_deadline=dt.date(2027, 12, 31))
    subtask = SubTaskFactory(task=task, code="T4.1")
    chengdu = PrefectureFactory(code="510100", name_zh="成都市")
    pilot = PilotFactory(programme=task.programme, prefecture=chengdu, code="510108", name_zh="成都市成华区",
                         construction_start=dt.date(2026, 7, 1), construction_end=dt.date(2027, 12, 31))
    chengdu_office = OrganisationFactory(kind=Organisation.Kind.PREFECTURE, prefecture=chengdu,
                                         contact_email="office@chengdu.example")
    reporter = member("reporter", chengdu_office, email="reporter@chengdu.example")
    reminder_rules_ensure()
    return {**office, "programme": task.programme, "subtask": subtask, "pilot": pilot, "reporter": reporter}


def file_report(world, label: str, start: dt.date) -> ProgressReport:
    return ProgressReport.objects.create(pilot=world["pilot"], subtask=world["subtask"], period=label,
                                         period_start=start, percent_complete=40, status="on_track")


def keeper(office):
    return client_for(office["admin"], can_write=True)


def period(client, label: str, **params) -> dict:
    response = client.get("/api/v1/periods/", {"programme": "scdc-2020", **params})
    assert response.status_code == 200, response.json()
    return next(row for row in response.json()["results"] if row["period"] == label)


# --- Done when: a holiday marked through the API moves the deadline and the sweep ----------------


def test_a_holiday_marked_in_2027_moves_the_deadline_and_the_sweep_does_not_remind_on_it(world):
    with time_machine.travel(at("2027-03-20"), tick=False):
        reader = client_for(world["reporter"])
        before = period(reader, "2027Q1", year=2027)
        assert before == {"programme": "scdc-2020", "period": "2027Q1", "start": "2027-01-01", "end": "2027-03-31",
                          "due_date": "2027-04-05", "due_date_provisional": True}

        response = keeper(world).post("/api/v1/calendar/days/", {"date": "2027-04-05", "kind": "holiday",
                                                                 "name": "清明节", "source": "省政府办公厅转发"},
                                      format="json")
        assert response.status_code == 201, response.json()
        assert response.json()["year_known"] is False
        after = period(reader, "2027Q1", year=2027)

    assert after["due_date"] == "2027-04-06" and after["due_date_provisional"] is True
    # The change enqueued the recompute of the stored reporting rates' deadlines and of the stored overdue
    # list, in its own transaction; the relayed refresh lists the report as due on the Tuesday.
    assert OutboxMessage.objects.filter(task="pilots.recompute_all_completion").count() == 1
    assert OutboxMessage.objects.filter(task="pilots.refresh_overdue").count() == 1
    with time_machine.travel(at("2027-04-05"), tick=False):
        overdue_refresh()
        listed = reader.get("/api/v1/overdue/", {"kind": "report_missing"}).json()["results"]
    assert [entry["due_on"] for entry in listed if entry["period"] == "2027Q1"] == ["2027-04-06"]

    with time_machine.travel(at("2027-04-05"), tick=False):
        assert reminders_sweep(now=at("2027-04-05")) == {"skipped": "not a working day"}
    assert Reminder.objects.count() == 0
    with time_machine.travel(at("2027-04-06"), tick=False):
        reminders_sweep(now=at("2027-04-06"))
    assert {(r.level, r.due_on) for r in Reminder.objects.filter(period="2027Q1")} == {("due_soon", dt.date(2027, 4, 6))}


def test_without_the_holiday_the_sweep_reminds_on_that_monday(world):
    """The counterpart: the same scenario untouched reminds on 2027-04-05 (the calendar, not the test, decides)."""
    with time_machine.travel(at("2027-04-05"), tick=False):
        reminders_sweep(now=at("2027-04-05"))
    assert {(r.level, r.due_on) for r in Reminder.objects.filter(period="2027Q1")} == {("due_soon", QINGMING_2027)}


def test_a_change_far_from_any_deadline_enqueues_nothing(world):
    response = keeper(world).post("/api/v1/calendar/days/", {"date": "2027-02-20", "kind": "workday", "name": "春节"},
                                  format="json")
    assert response.status_code == 201
    assert not OutboxMessage.objects.filter(task="pilots.recompute_all_completion").exists()
    assert OutboxMessage.objects.filter(task="pilots.refresh_overdue").count() == 1  # waiting times count working days


def test_reports_carry_their_period_due_date_without_a_query_per_row(world, django_assert_max_num_queries):
    file_report(world, "2027Q1", dt.date(2027, 1, 1))
    with time_machine.travel(at("2027-03-20"), tick=False):
        client = client_for(world["reporter"])
        body = client.get("/api/v1/reports/").json()
        assert (body["results"][0]["due_date"], body["results"][0]["due_date_provisional"]) == ("2027-04-05", True)
        detail = client.get(f"/api/v1/reports/{body['results'][0]['id']}/").json()
        assert detail["due_date"] == "2027-04-05"
        client.get("/api/v1/reports/")  # warm: token last-used, calendar copy
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as one:
            client.get("/api/v1/reports/")
        for quarter in ("2026Q3", "2026Q4"):
            file_report(world, quarter, dt.date(2026, 7 if quarter.endswith("3") else 10, 1))
        with django_assert_max_num_queries(len(one.captured_queries)):
            body = client.get("/api/v1/reports/").json()
    assert [row["due_date"] for row in body["results"]] == ["2027-04-05", "2027-01-05", "2026-10-08"]


# --- The periods endpoint -------------------------------------------------------------------------


def test_periods_run_from_the_programme_start_to_the_current_quarter(world):
    with time_machine.travel(at("2027-03-20"), tick=False):
        client = client_for(world["viewer"])
        by_code = client.get("/api/v1/periods/", {"programme": "scdc-2020"}).json()
        by_id = client.get("/api/v1/periods/", {"programme": str(world["programme"].pk)}).json()
    assert by_code == by_id
    assert [row["period"] for row in by_code["results"]] == ["2026Q3", "2026Q4", "2027Q1"]
    # 2026Q4's deadline (2027-01-05) lies in 2027, whose arrangement has not been entered.
    assert [row["due_date_provisional"] for row in by_code["results"]] == [False, True, True]
    # 2026Q3 + 5 days = 2026-10-05, inside the National Day holiday (1–7 October): moved to Thursday 10-08.
    assert by_code["results"][0]["due_date"] == "2026-10-08"


@pytest.mark.parametrize("params, field", [({"programme": "nope"}, "programme"), ({"year": "20x7"}, "year"),
                                           ({"quarter": "1"}, "quarter"), ({"year": "１９９９"}, "year")])
def test_periods_refuse_what_they_cannot_resolve(world, params, field):
    response = client_for(world["viewer"]).get("/api/v1/periods/", params)
    assert response.status_code == 400 and error_fields(response) == {field}


# --- Keeping single days -----------------------------------------------------------------------------


def test_a_day_is_changed_with_if_match_and_every_change_is_audited(office):
    client = keeper(office)
    created = client.post("/api/v1/calendar/days/", {"date": "2027-10-01", "kind": "holiday", "name": "国庆节"},
                          format="json")
    assert created.status_code == 201
    day_id, etag = created.json()["id"], created["ETag"]
    assert not is_working_day(dt.date(2027, 10, 1))

    assert client.patch(f"/api/v1/calendar/days/{day_id}/", {"kind": "workday"}, format="json").status_code == 428
    changed = client.patch(f"/api/v1/calendar/days/{day_id}/", {"kind": "workday"}, format="json", HTTP_IF_MATCH=etag)
    assert changed.status_code == 200 and changed.json()["kind"] == "workday"
    assert client.patch(f"/api/v1/calendar/days/{day_id}/", {"name": "x"}, format="json",
                        HTTP_IF_MATCH=etag).status_code == 412
    assert client.delete(f"/api/v1/calendar/days/{day_id}/", HTTP_IF_MATCH=changed["ETag"]).status_code == 204
    assert is_working_day(dt.date(2027, 10, 1))  # a Friday, as its weekday says

    entries = AuditEntry.objects.filter(object_type="smartcity.calendarday", object_id=str(day_id)).order_by("id")
    assert [(e.action, e.actor_username, e.via) for e in entries] == [
        ("create", office["admin"].username, "token"), ("update", office["admin"].username, "token"),
        ("delete", office["admin"].username, "token")]
    assert entries[1].before["kind"] == "holiday" and entries[1].after["kind"] == "workday"


def test_an_idempotency_key_files_a_day_once(office):
    client = keeper(office)
    body = {"date": "2027-06-14", "kind": "holiday", "name": "端午节"}
    first = client.post("/api/v1/calendar/days/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post("/api/v1/calendar/days/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert CalendarDay.objects.filter(date=dt.date(2027, 6, 14)).count() == 1


@pytest.mark.parametrize("body, field", [
    ({"date": "2027-06-14", "kind": "festival", "name": "端午节"}, "kind"),
    ({"date": "2026-10-01", "kind": "holiday", "name": "国庆节"}, "date"),  # seeded already: a duplicate
    ({"date": "2027-02-30", "kind": "holiday", "name": "春节"}, "date"),
])
def test_a_bad_day_is_a_400_naming_the_field(office, body, field):
    response = keeper(office).post("/api/v1/calendar/days/", body, format="json")
    assert response.status_code == 400 and error_fields(response) == {field}
    assert not CalendarDay.objects.filter(date__year=2027).exists()


def test_everyone_signed_in_reads_the_calendar_by_year(world):
    response = client_for(world["reporter"]).get("/api/v1/calendar/days/", {"year": 2026, "kind": "workday"})
    assert response.status_code == 200
    assert [row["date"] for row in response.json()["results"]] == [
        "2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"]
    assert all(row["year_known"] for row in response.json()["results"])
    refused = client_for(world["reporter"], can_write=True).post(
        "/api/v1/calendar/days/", {"date": "2027-06-14", "kind": "holiday", "name": "端午节"}, format="json")
    assert refused.status_code == 403


# --- Importing a year --------------------------------------------------------------------------------


def test_importing_a_year_as_json_replaces_its_days_and_makes_its_deadlines_facts(world):
    client = keeper(world)
    client.post("/api/v1/calendar/days/", {"date": "2027-03-01", "kind": "holiday", "name": "试"}, format="json")
    response = client.post("/api/v1/calendar/import/", ARRANGEMENT_2027, format="json")
    assert response.status_code == 201, response.json()
    assert response.json() == {"year": 2027, "source": ARRANGEMENT_2027["source"], "holidays": 5, "workdays": 1}

    assert sorted(CalendarDay.objects.filter(date__year=2027).values_list("date", flat=True)) == [
        dt.date.fromisoformat(row["date"]) for row in ARRANGEMENT_2027["days"]]
    assert CalendarYear.objects.get(year=2027).source == ARRANGEMENT_2027["source"]
    assert calendar_known(dt.date(2027, 5, 1)) and is_working_day(dt.date(2027, 2, 20))  # a Saturday worked
    with time_machine.travel(at("2027-03-20"), tick=False):
        q1 = period(client_for(world["viewer"]), "2027Q1")
    assert (q1["due_date"], q1["due_date_provisional"]) == ("2027-04-06", False)
    assert AuditEntry.objects.filter(object_type="smartcity.calendarday", action="delete").count() == 1
    assert AuditEntry.objects.filter(object_type="smartcity.calendarday", action="create").count() == 1 + 6
    assert AuditEntry.objects.filter(object_type="smartcity.calendaryear", action="create").count() == 1


def test_importing_a_year_as_csv(office):
    text = "year,2027\nsource,https://www.gov.cn/example-2027\ndate,kind,name\n" + "".join(
        f"{row['date']},{row['kind']},{row['name']}\n" for row in ARRANGEMENT_2027["days"])
    upload = io.BytesIO(text.encode("utf-8"))
    upload.name = "2027.csv"
    response = keeper(office).post("/api/v1/calendar/import/", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.json()
    assert response.json()["holidays"] == 5
    assert CalendarDay.objects.get(date=dt.date(2027, 2, 20)).kind == "workday"
    assert CalendarYear.objects.filter(year=2027).exists()


@pytest.mark.parametrize("row, field", [
    ({"date": "2027-13-01", "kind": "holiday", "name": "春节"}, "days[3].date"),
    ({"date": "2027-02-06", "kind": "holiday", "name": "春节"}, "days[3].date"),  # duplicates days[1]
    ({"date": "2027-02-10", "kind": "vacation", "name": "春节"}, "days[3].kind"),
    ({"date": "2028-02-10", "kind": "holiday", "name": "春节"}, "days[3].date"),
])
def test_an_import_with_one_bad_row_writes_nothing(office, row, field):
    client = keeper(office)
    client.post("/api/v1/calendar/days/", {"date": "2027-03-01", "kind": "holiday", "name": "试"}, format="json")
    days = [*ARRANGEMENT_2027["days"][:3], row, *ARRANGEMENT_2027["days"][3:]]
    response = client.post("/api/v1/calendar/import/", {**ARRANGEMENT_2027, "days": days}, format="json")
    assert response.status_code == 400 and error_fields(response) == {field}
    assert list(CalendarDay.objects.filter(date__year=2027).values_list("name", flat=True)) == ["试"]
    assert not CalendarYear.objects.filter(year=2027).exists()


def test_a_csv_row_that_is_no_date_is_named_by_its_row(office):
    upload = io.BytesIO("year,2027\nsource,国办通知\ndate,kind,name\n2027-01-01,holiday,元旦\n1月2日,holiday,元旦\n"
                        .encode("utf-8"))
    upload.name = "2027.csv"
    response = keeper(office).post("/api/v1/calendar/import/", {"file": upload}, format="multipart")
    assert response.status_code == 400 and error_fields(response) == {"days[1].date"}
    assert not CalendarDay.objects.filter(date__year=2027).exists()


def test_the_import_command_enters_a_year_or_nothing(tmp_path):
    good = tmp_path / "2027.json"
    good.write_text(json.dumps(ARRANGEMENT_2027, ensure_ascii=False), encoding="utf-8")
    bad = tmp_path / "2028.json"
    bad.write_text(json.dumps({"year": 2028, "source": "x", "days": [{"date": "2028-01-01", "kind": "holiday",
                                                                     "name": "元旦"}, {"date": "soon"}]}))
    with pytest.raises(CommandError, match=r"days\[1\]\.date"):
        call_command("import_calendar", str(bad))
    assert not CalendarDay.objects.filter(date__year=2028).exists()

    out = io.StringIO()
    call_command("import_calendar", str(good), stdout=out)
    assert "2027: 5 holidays and 1 adjusted working days" in out.getvalue()
    assert AuditEntry.objects.filter(object_type="smartcity.calendaryear", via="command").count() == 1


# --- Every process follows a change -------------------------------------------------------------------


def test_another_process_change_is_seen_at_the_next_request_or_task():
    day = dt.date(2027, 6, 14)  # a Monday
    assert is_working_day(day)
    # Another process enters the day: the row and the revision change, this process's copy does not.
    CalendarDay.objects.create(date=day, kind="holiday", name="端午节")
    CalendarRevision.objects.filter(pk=1).update(number=CalendarRevision.objects.get(pk=1).number + 1)
    assert is_working_day(day)  # still the copy: no query per answer
    calendar_expire()  # what request_started and task_prerun do
    assert not is_working_day(day)


# --- The November notice ---------------------------------------------------------------------------


def test_from_1_november_the_administrators_are_told_once_a_day_until_the_year_is_entered(office):
    member("admin", OrganisationFactory(kind=Organisation.Kind.PREFECTURE, prefecture=PrefectureFactory()))
    with time_machine.travel(at("2026-10-31"), tick=False):
        assert calendar_year_notices() == {"notified": 0}
    with time_machine.travel(at("2026-11-01"), tick=False):
        assert calendar_year_notices() == {"notified": 1}
        assert calendar_year_notices() == {"notified": 0}  # once a day, however often it runs
    notice = Notification.objects.get()
    assert notice.user == office["admin"] and "2027" in notice.title
    assert "2027" in notice.body and "import_calendar" in notice.body
    assert [message.to for message in mail.outbox] == [["admin@province.example"]]
    with time_machine.travel(at("2026-11-02"), tick=False):
        assert calendar_year_notices() == {"notified": 1}

    call_command("import_calendar", _arrangement_file(), stdout=io.StringIO())
    with time_machine.travel(at("2026-11-03"), tick=False):
        assert calendar_year_notices() == {"notified": 0}
    assert CalendarNotice.objects.count() == Notification.objects.count() == 2


def test_a_year_still_missing_in_january_is_still_announced(office):
    with time_machine.travel(at("2027-01-04"), tick=False):
        assert calendar_year_notices() == {"notified": 1}
    assert "2027" in Notification.objects.get().title



def _arrangement_file() -> str:
    import tempfile

    handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8")
    json.dump(ARRANGEMENT_2027, handle, ensure_ascii=False)
    handle.close()
    return handle.name


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_notice_jobs_running_at_once_tell_each_administrator_once():
    import threading

    from django.db import connection

    province = OrganisationFactory(code="province")
    admins = [member("admin", province, email=f"admin{n}@province.example") for n in range(3)]
    runs, results, errors = 4, [], []
    barrier = threading.Barrier(runs)

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(calendar_year_notices(today=dt.date(2026, 11, 1)))
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sum(result["notified"] for result in results) == len(admins)
    assert Notification.objects.count() == CalendarNotice.objects.count() == len(admins)
    assert sorted(message.to[0] for message in mail.outbox) == sorted(admin.email for admin in admins)


def test_a_holiday_added_in_the_admin_moves_the_deadline_and_is_audited(world, client):
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    client.force_login(get_user_model().objects.create_user("office-admin", is_staff=True, is_superuser=True))
    revision = CalendarRevision.objects.get(pk=1).number
    response = client.post(reverse("admin:smartcity_calendarday_add"),
                           {"date": "2027-04-05", "kind": "holiday", "name": "清明节", "source": "国办通知"})
    assert response.status_code == 302
    assert CalendarRevision.objects.get(pk=1).number == revision + 1
    assert OutboxMessage.objects.filter(task="pilots.recompute_all_completion").count() == 1
    entry = AuditEntry.objects.get(object_type="smartcity.calendarday", action="create")
    assert (entry.via, entry.after["name"]) == ("admin", "清明节")
    with time_machine.travel(at("2027-03-20"), tick=False):
        assert period(client_for(world["viewer"]), "2027Q1")["due_date"] == "2027-04-06"

    duplicate = client.post(reverse("admin:smartcity_calendarday_add"),
                            {"date": "2027-04-05", "kind": "holiday", "name": "清明节"})
    assert duplicate.status_code == 200 and CalendarDay.objects.filter(date=dt.date(2027, 4, 5)).count() == 1
