"""/metrics: what an operator's Prometheus scrapes, and who may scrape it."""

from __future__ import annotations

import datetime as dt
import math

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from pilots.models import Organisation, Reminder, WebhookSubscription
from pilots.services.reminders import overdue_refresh, reminder_rules_ensure
from pilots.tasks import recompute_all_completion
from smartcity.models import JobRun, OutboxMessage, WorkerHeartbeat
from smartcity.tasks import relay_outbox
from tests.factories import OrganisationFactory, PilotFactory, PrefectureFactory, SubTaskFactory, TaskFactory, member

pytestmark = pytest.mark.django_db

TOKEN = "scraper-token-0123456789abcdef"
CST = dt.timezone(dt.timedelta(hours=8))
# A Monday in the scenario's life: the 2021Q3 report of a pilot that never reported is escalated by now.
MORNING = dt.datetime(2021, 10, 25, 10, 0, tzinfo=CST)


@pytest.fixture
def scraper(settings, client):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []

    def scrape(**extra):
        return client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **extra)

    return scrape


def samples(response) -> dict[tuple[str, tuple], float]:
    """Every sample of the scrape by (name, sorted labels), parsed as Prometheus parses it."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples}


def _pilot_that_never_reported(subtask=None, code="510108"):
    """A pilot of Chengdu under construction since 2021-07-01 that has filed no report."""
    if subtask is None:
        subtask = SubTaskFactory(task=TaskFactory(code="T4"), code="T4.1")
        OrganisationFactory(kind=Organisation.Kind.PREFECTURE, prefecture=PrefectureFactory(code="510100"))
    pilot = PilotFactory(programme=subtask.task.programme, prefecture=PrefectureFactory(code="510100"), code=code,
                         construction_start=dt.date(2021, 7, 1))
    return pilot, subtask


def _reminder(pilot, subtask, *, n, kind="report_missing", sent=False, failed=False):
    return Reminder.objects.create(
        item_key=f"report:{pilot.pk}:{subtask.pk}:2021Q3:{n}", kind=kind, level="overdue",
        occurrence=dt.date(2021, 10, 11), recipient=f"email:office{n}@chengdu.gov.cn", channel="email",
        recipient_email=f"office{n}@chengdu.gov.cn", pilot=pilot, subtask=subtask, period="2021Q3",
        due_on=dt.date(2021, 10, 8), link="http://127.0.0.1:8000/dashboard/",
        sent_at=timezone.now() if sent else None, failed_at=timezone.now() if failed else None,
        last_error="550 mailbox unavailable" if failed else "")


def _scenario():
    """An operator's bad morning: a stuck outbox message, a failing webhook, a silent worker…"""
    reminder_rules_ensure()
    pilot, subtask = _pilot_that_never_reported()
    now = timezone.now()
    OutboxMessage.objects.create(task="pilots.recompute_pilot_completion", kwargs={"pilot_id": pilot.pk},
                                 created_at=now - dt.timedelta(minutes=10), attempts=20,
                                 last_error="OperationalError: Error 111 connecting to 127.0.0.1:6379.")
    OutboxMessage.objects.create(task="smartcity.tasks.record_heartbeat", kwargs={},
                                 created_at=now - dt.timedelta(hours=2), dispatched_at=now - dt.timedelta(hours=2))
    integrator = member("integrator")
    WebhookSubscription.objects.create(owner=integrator, url="https://erp.example.cn/hook", events=["report.approved"],
                                       secret="s" * 32, consecutive_failures=3)
    WebhookSubscription.objects.create(owner=integrator, url="https://old.example.cn/hook", events=["report.approved"],
                                       secret="s" * 32, active=False, consecutive_failures=10, disabled_at=now)
    WebhookSubscription.objects.create(owner=integrator, url="https://ok.example.cn/hook", events=["report.approved"],
                                       secret="s" * 32)
    WorkerHeartbeat.objects.create(hostname="celery@worker-1", seen_at=now - dt.timedelta(minutes=7))
    WorkerHeartbeat.objects.create(hostname="celery@worker-2", seen_at=now - dt.timedelta(minutes=30))
    _reminder(pilot, subtask, n=1, sent=True)
    _reminder(pilot, subtask, n=2, sent=True)
    _reminder(pilot, subtask, n=3, failed=True)
    _reminder(pilot, subtask, n=4, kind="review_stale")
    JobRun.objects.create(task="pilots.recompute_all_completion", finished_at=now - dt.timedelta(hours=8, minutes=30))
    return pilot, subtask


# --- Who may scrape ------------------------------------------------------------------------------

def test_metrics_are_switched_off_until_a_token_or_a_network_is_configured(settings, client):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", []

    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token-0123456789abcdef", f"Token {TOKEN}", TOKEN])
def test_a_scraper_without_the_token_is_refused(settings, client, authorization):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = TOKEN, []

    response = client.get("/metrics", **({"HTTP_AUTHORIZATION": authorization} if authorization else {}))

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert b"smartcity_" not in response.content


def test_a_scraper_with_the_token_is_answered(scraper):
    response = scraper()

    assert ("smartcity_outbox_unsent_messages", ()) in samples(response)
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_scraper_from_an_allowed_network_is_answered_without_a_token(settings, client):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", ["10.42.0.0/16", "fd00::/8"]

    assert client.get("/metrics", REMOTE_ADDR="10.42.7.9").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="fd00::17").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.43.0.1").status_code == 403


def test_a_forged_forwarded_for_header_does_not_put_a_client_in_the_allowed_network(settings, client):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", ["10.42.0.0/16"]

    response = client.get("/metrics", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="10.42.7.9")

    assert response.status_code == 403


def test_behind_a_trusted_proxy_the_forwarded_client_address_decides(settings, client):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", ["10.42.0.0/16"]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    assert client.get("/metrics", REMOTE_ADDR="172.16.0.2", HTTP_X_FORWARDED_FOR="10.42.7.9").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="172.16.0.2", HTTP_X_FORWARDED_FOR="10.42.7.9, 8.8.8.8").status_code == 403


def test_only_get_is_answered(scraper, client):
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


# --- What it says ---------------------------------------------------------------------------------

def test_the_gauges_tell_an_operator_what_is_wrong(scraper):
    with time_machine.travel(MORNING, tick=False):
        _scenario()
        overdue_refresh()  # the sweep stores the overdue list; /metrics reads it
        values = samples(scraper())

    assert values[("smartcity_outbox_oldest_unsent_age_seconds", ())] == 600
    assert values[("smartcity_outbox_unsent_messages", ())] == 1
    assert values[("smartcity_webhook_subscriptions_failing", ())] == 1
    assert values[("smartcity_webhook_subscriptions_disabled", ())] == 1
    assert values[("smartcity_worker_heartbeat_age_seconds", ())] == 7 * 60  # the newest of the two workers
    assert values[("smartcity_completion_snapshot_age_seconds", ())] == 8.5 * 3600
    assert values[("smartcity_job_last_success_age_seconds", (("task", "pilots.recompute_all_completion"),))] == 30600
    reminders = {(name, dict(labels)["kind"]): value for (name, labels), value in values.items()
                 if name.startswith("smartcity_reminders_")}
    assert reminders[("smartcity_reminders_sent_total", "report_missing")] == 2
    assert reminders[("smartcity_reminders_failed_total", "report_missing")] == 1
    assert reminders[("smartcity_reminders_unsent", "review_stale")] == 1
    assert reminders[("smartcity_reminders_sent_total", "milestone_behind")] == 0
    overdue = {dict(labels)["level"]: value for (name, labels), value in values.items()
               if name == "smartcity_overdue_items"}
    assert overdue == {"due_soon": 0, "overdue": 0, "repeat": 0, "escalation": 1}  # the 2021Q3 report, 17 days late


def test_a_quiet_service_reports_zero_backlog_and_never_seen_jobs_as_infinitely_old(scraper):
    values = samples(scraper())

    assert values[("smartcity_outbox_oldest_unsent_age_seconds", ())] == 0
    assert values[("smartcity_webhook_subscriptions_failing", ())] == 0
    assert math.isinf(values[("smartcity_worker_heartbeat_age_seconds", ())])
    assert math.isinf(values[("smartcity_completion_snapshot_age_seconds", ())])


def test_the_nightly_snapshot_and_the_relay_record_their_last_successful_run(scraper):
    with time_machine.travel(dt.datetime(2021, 10, 25, 1, 30, tzinfo=CST), tick=False):
        recompute_all_completion.apply()
        relay_outbox.apply()
    assert set(JobRun.objects.values_list("task", flat=True)) == {"pilots.recompute_all_completion",
                                                                  "smartcity.relay_outbox"}

    with time_machine.travel(dt.datetime(2021, 10, 25, 9, 30, tzinfo=CST), tick=False):
        values = samples(scraper())

    assert values[("smartcity_completion_snapshot_age_seconds", ())] == 8 * 3600
    assert values[("smartcity_job_last_success_age_seconds", (("task", "smartcity.relay_outbox"),))] == 8 * 3600


def test_a_failed_nightly_snapshot_does_not_count_as_a_run(scraper, monkeypatch):
    import pilots.tasks

    def broken(*, as_of):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(pilots.tasks, "completion_recompute_all", broken)

    result = recompute_all_completion.apply()

    assert result.failed()
    assert not JobRun.objects.exists()


def test_a_task_that_is_no_periodic_job_is_not_recorded(scraper):
    pilot, _subtask = _pilot_that_never_reported()

    from pilots.tasks import recompute_pilot_completion

    recompute_pilot_completion.apply(kwargs={"pilot_id": pilot.pk})

    assert not JobRun.objects.exists()


# --- What it costs ----------------------------------------------------------------------------------

def _scrape_queries(scraper) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert scraper().status_code == 200
    return len(queries)


def test_a_scrape_costs_the_same_queries_for_one_row_or_many(scraper):
    with time_machine.travel(MORNING, tick=False):
        pilot, subtask = _scenario()
        overdue_refresh()
        few = _scrape_queries(scraper)

        for n in range(2, 12):
            other, _ = _pilot_that_never_reported(subtask, code=f"5101{n + 10:02d}")
            _reminder(other, subtask, n=100 + n, sent=True)
            _reminder(other, subtask, n=200 + n, failed=True)
            OutboxMessage.objects.create(task="pilots.recompute_pilot_completion", kwargs={"pilot_id": other.pk},
                                         created_at=timezone.now() - dt.timedelta(minutes=n))
            WorkerHeartbeat.objects.create(hostname=f"celery@worker-{n + 10}", seen_at=timezone.now())
            WebhookSubscription.objects.create(owner=member("integrator"), url=f"https://erp{n}.example.cn/hook",
                                               events=["report.approved"], secret="s" * 32, consecutive_failures=n)
            JobRun.objects.create(task=f"pilots.some_job_{n}", finished_at=timezone.now())
        overdue_refresh()
        many = _scrape_queries(scraper)
        values = samples(scraper())

    assert many == few
    overdue = {dict(labels)["level"]: value for (name, labels), value in values.items()
               if name == "smartcity_overdue_items"}
    assert overdue["escalation"] == 11  # the data did grow
