"""Log lines operators read: one per request, one per task, and the request's ID carried into its tasks."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys

import pytest
import time_machine
from celery import signals
from django.conf import settings
from django.utils import timezone

from pilots.periods import Period
from pilots.tasks import recompute_pilot_completion
from smartcity.celery import app as celery_app
from smartcity.logs import REQUEST_ID_HEADER, JsonFormatter
from smartcity.middleware import current_request_id
from smartcity.models import OutboxMessage
from smartcity.outbox import outbox_relay
from tests.factories import OrganisationFactory, PilotFactory, PrefectureFactory, SubTaskFactory, member
from tests.helpers import client_for

REQUEST_ID = "abc-gateway-trace-0001"


@pytest.fixture
def published():
    """The headers of every task message actually handed to the broker, by task name."""
    seen: list[tuple[str, dict]] = []

    def record(sender=None, headers=None, **kwargs):
        seen.append((sender, dict(headers)))

    signals.before_task_publish.connect(record, weak=False)
    yield seen
    signals.before_task_publish.disconnect(record)


def _reporter_and_pilot():
    prefecture = PrefectureFactory(code="510100", name_zh="成都市")
    subtask = SubTaskFactory(code="T4.1")
    pilot = PilotFactory(programme=subtask.task.programme, prefecture=prefecture, code="510108", name_zh="成华区",
                         construction_start=dt.date(2021, 1, 1), construction_end=dt.date(2030, 12, 31))
    reporter = member("reporter", OrganisationFactory(kind="prefecture", prefecture=prefecture))
    return reporter, pilot, subtask


def _submit(client, pilot, subtask, **headers):
    return client.post("/api/v1/reports/", {
        "pilot": pilot.pk, "subtask": subtask.pk, "period": str(Period.current()), "percent_complete": "45.0",
        "status": "on_track", "submit": True}, format="json", **headers)


def _json_lines(caplog, logger: str) -> list[dict]:
    """The records of ``logger``, as the JSON formatter writes them."""
    formatter = JsonFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records if record.name == logger]


# --- One line per request ----------------------------------------------------------------------

@pytest.mark.django_db
def test_each_request_is_one_line_naming_method_path_status_duration_user_address_and_request_id(caplog):
    caplog.set_level(logging.INFO, logger="smartcity.request")
    reporter, pilot, subtask = _reporter_and_pilot()

    response = _submit(client_for(reporter, can_write=True), pilot, subtask, HTTP_X_REQUEST_ID=REQUEST_ID,
                       REMOTE_ADDR="10.20.30.40")

    assert response.status_code == 201, response.json()
    [line] = _json_lines(caplog, "smartcity.request")
    assert {key: line[key] for key in ("method", "path", "status", "user_id", "remote_addr", "request_id")} == {
        "method": "POST", "path": "/api/v1/reports/", "status": 201, "user_id": reporter.pk,
        "remote_addr": "10.20.30.40", "request_id": REQUEST_ID}
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["level"] == "INFO" and line["logger"] == "smartcity.request"
    dt.datetime.fromisoformat(line["time"])


@pytest.mark.django_db
def test_an_anonymous_refused_request_is_logged_too_without_a_user(client, caplog):
    caplog.set_level(logging.INFO, logger="smartcity.request")

    response = client.get("/api/v1/reports/")

    assert response.status_code == 401
    [line] = _json_lines(caplog, "smartcity.request")
    assert (line["status"], line["user_id"], line["request_id"]) == (401, None, response["X-Request-ID"])


@pytest.mark.django_db
def test_logging_a_probe_of_a_signed_in_browser_costs_no_query(client, caplog, django_assert_num_queries):
    caplog.set_level(logging.INFO, logger="smartcity.request")
    reporter, _pilot, _subtask = _reporter_and_pilot()
    client.force_login(reporter)

    with django_assert_num_queries(0):  # /healthz touches nothing, and the log line does not either
        assert client.get("/healthz").status_code == 200
    assert client.get("/dashboard/").status_code == 302  # to its own prefecture's page

    probe, page = _json_lines(caplog, "smartcity.request")
    assert (probe["path"], probe["user_id"]) == ("/healthz", None)
    assert (page["path"], page["user_id"]) == ("/dashboard/", reporter.pk)


# --- The request's ID travels into the tasks it causes ----------------------------------------

@pytest.mark.django_db
def test_the_recompute_a_request_causes_logs_with_the_requests_id(published, caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.INFO)
    reporter, pilot, subtask = _reporter_and_pilot()

    with django_capture_on_commit_callbacks(execute=True):
        response = _submit(client_for(reporter, can_write=True), pilot, subtask, HTTP_X_REQUEST_ID=REQUEST_ID)

    assert response.status_code == 201, response.json()
    assert OutboxMessage.objects.get(task="pilots.recompute_pilot_completion").request_id == REQUEST_ID
    [headers] = [headers for name, headers in published if name == recompute_pilot_completion.name]
    assert headers[REQUEST_ID_HEADER] == REQUEST_ID

    # A worker, with no request of its own, runs the message it received.
    assert current_request_id.get() == "-"
    caplog.clear()
    recompute_pilot_completion.apply(kwargs={"pilot_id": pilot.pk}, headers=headers)

    [line] = _json_lines(caplog, "smartcity.task")
    assert {key: line[key] for key in ("task_name", "state", "request_id")} == {
        "task_name": "pilots.recompute_pilot_completion", "state": "SUCCESS", "request_id": REQUEST_ID}
    assert line["task_id"] and line["duration_ms"] >= 0
    assert current_request_id.get() == "-"  # the task's ID does not leak into what the worker does next


@pytest.mark.django_db
def test_work_the_relay_sends_later_still_carries_the_id_of_the_request_that_caused_it(published):
    reporter, pilot, subtask = _reporter_and_pilot()
    # The send on commit did not happen (as when the broker is down): the message waits for the relay.
    response = _submit(client_for(reporter, can_write=True), pilot, subtask, HTTP_X_REQUEST_ID=REQUEST_ID)
    assert response.status_code == 201, response.json()
    waiting = OutboxMessage.objects.filter(dispatched_at__isnull=True).count()
    assert waiting == OutboxMessage.objects.count() >= 1  # the recompute and the overdue refresh it causes

    # The relay runs as a task of its own, with its own request ID.
    token = current_request_id.set("relay-task-run-0002")
    try:
        with time_machine.travel(timezone.now() + dt.timedelta(seconds=30), tick=False):
            assert outbox_relay() == waiting
    finally:
        current_request_id.reset(token)

    assert len(published) == waiting
    assert {headers[REQUEST_ID_HEADER] for _task, headers in published} == {REQUEST_ID}


@pytest.mark.django_db
def test_a_task_sent_outside_any_request_carries_no_request_id(published):
    celery_app.send_task("smartcity.tasks.record_heartbeat")

    [(_task, headers)] = published
    assert REQUEST_ID_HEADER not in headers


# --- The format is a setting ---------------------------------------------------------------------

def _log_in_fresh_process(log_format: str) -> subprocess.CompletedProcess:
    code = ("import django, logging; django.setup(); "
            "from smartcity.middleware import current_request_id; current_request_id.set('abc-trace-00000003'); "
            "logging.getLogger('smartcity.task').warning('稍后重试 %s', 3, extra={'task_name': 'pilots.send_webhook'})")
    env = {"DJANGO_SETTINGS_MODULE": "smartcity.settings", "DEBUG": "true", "LOG_FORMAT": log_format,
           "PATH": "/usr/bin:/bin", "VAR_DIR": str(settings.VAR_DIR)}
    return subprocess.run([sys.executable, "-c", code], cwd=settings.BASE_DIR, env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_log_format_json_writes_one_json_object_per_line():
    result = _log_in_fresh_process("json")

    assert result.returncode == 0, result.stderr
    [line] = [json.loads(text) for text in result.stderr.splitlines()]
    assert {key: line[key] for key in ("level", "logger", "message", "request_id", "task_name")} == {
        "level": "WARNING", "logger": "smartcity.task", "message": "稍后重试 3",
        "request_id": "abc-trace-00000003", "task_name": "pilots.send_webhook"}


def test_log_format_text_is_the_readable_default_with_the_request_id_in_brackets():
    result = _log_in_fresh_process("text")

    assert result.returncode == 0, result.stderr
    assert result.stderr.rstrip().endswith("WARNING smartcity.task [abc-trace-00000003] 稍后重试 3")


def test_an_unknown_log_format_stops_the_service_at_start_up():
    result = _log_in_fresh_process("xml")

    assert result.returncode != 0
    assert "LOG_FORMAT='xml' must be text or json" in result.stderr


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_logs_the_recompute_with_the_id_of_the_request_that_caused_it(celery_worker_process):
    reporter, pilot, subtask = _reporter_and_pilot()

    response = _submit(client_for(reporter, can_write=True), pilot, subtask, HTTP_X_REQUEST_ID=REQUEST_ID)

    assert response.status_code == 201, response.json()
    expected = f"smartcity.task [{REQUEST_ID}] task {recompute_pilot_completion.name} "
    line = celery_worker_process.wait_for(
        lambda: next((text for text in celery_worker_process.log_path.read_text(errors="replace").splitlines()
                      if expected in text), None),
        timeout=60, what="the worker's log line of the recompute")
    assert line.endswith(" SUCCESS")
