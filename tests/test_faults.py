"""Fault injection on real services: a throwaway Redis killed and restarted, PostgreSQL cut off behind a
proxy, and real Celery workers SIGKILLed in the middle of a recompute and of a reminder sweep.

Each test starts its own servers on spare ports (``tests/faults.py``) and stops them in ``finally``
blocks; the machine's shared PostgreSQL and Redis are never stopped. Workers run
``celery -A tests.fault_worker`` — the project's app with test-only hooks that stop a task at a known
point (see that module), so the kills land mid-way deterministically, not by timing luck.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import time_machine
from django.utils import timezone

from pilots.models import CompletionRollup, Notification, ProgressReport, Reminder, WebhookDelivery
from pilots.periods import Period
from smartcity.audit import ChangeContext
from smartcity.models import OutboxMessage
from smartcity.outbox import outbox_relay
from tests import faults
from tests.conftest import _test_database_url
from tests.factories import (
    OrganisationFactory,
    PilotFactory,
    PrefectureFactory,
    SubTaskFactory,
    bearer,
    member,
)
from tests.helpers import Receiver, client_for
from tests.test_reminders_concurrency import NOW, RECIPIENTS, build_overdue_quarter

pytestmark = [pytest.mark.django_db(transaction=True)]

FIGURE_TIMEOUT = 45  # seconds for a worker to bring a figure up to date


# --- A small world: one pilot, two weighted sub-tasks, a reporter and a reviewer ----------------------

@pytest.fixture
def world():
    today = timezone.localdate()
    chengdu = PrefectureFactory(code="510100")
    online = SubTaskFactory(code="T4.1", weight=Decimal(1))
    livelihood = SubTaskFactory(task=online.task, code="T4.2", weight=Decimal(3))
    pilot = PilotFactory(programme=online.task.programme, prefecture=chengdu, code="510108",
                         designated_on=today - dt.timedelta(days=400),
                         construction_start=today - dt.timedelta(days=400),
                         construction_end=today + dt.timedelta(days=400))
    reporter = member("reporter", OrganisationFactory(kind="prefecture", prefecture=chengdu))
    return {
        "pilot": pilot, "online": online, "livelihood": livelihood, "today": today, "reporter": reporter,
        "office": client_for(reporter, can_write=True),
        "reviewer": client_for(member("reviewer", OrganisationFactory(code="province")), can_write=True),
    }


def report_body(world, subtask, percent: str) -> dict:
    return {"pilot": world["pilot"].pk, "subtask": subtask.pk, "period": str(Period.current()),
            "percent_complete": percent, "status": "on_track", "submit": True}


def file(world, subtask, percent: str) -> str:
    """File and submit a report through the API; returns its URL."""
    filed = world["office"].post("/api/v1/reports/", report_body(world, subtask, percent), format="json")
    assert filed.status_code == 201, filed.json()
    return f"/api/v1/reports/{filed.json()['report']['id']}/"


def approve(world, url: str) -> None:
    etag = world["reviewer"].get(url)["ETag"]
    approved = world["reviewer"].post(f"{url}approve/", {}, format="json", HTTP_IF_MATCH=etag)
    assert approved.status_code == 200, approved.json()


def file_and_approve(world, subtask, percent: str) -> None:
    """File and submit a report through the API (201), then approve it (200)."""
    approve(world, file(world, subtask, percent))


def province_completion(as_of: dt.date) -> Decimal | None:
    return (CompletionRollup.objects.filter(scope=CompletionRollup.Scope.PROVINCE, as_of=as_of, real_only=False)
            .values_list("completion", flat=True).first())


def pilot_completion(pilot, as_of: dt.date) -> Decimal | None:
    return (CompletionRollup.objects.filter(scope=CompletionRollup.Scope.PILOT, scope_id=pilot.pk, as_of=as_of,
                                            real_only=False).values_list("completion", flat=True).first())


def figures(as_of: dt.date) -> list[tuple]:
    """Every stored rollup of the day, for comparing a worker's result with a fresh computation."""
    return list(CompletionRollup.objects.filter(as_of=as_of).order_by("scope", "scope_id", "task_id", "real_only")
                .values_list("scope", "scope_id", "task_id", "real_only", "completion", "pilot_count"))


def received(worker, task: str) -> int:
    return len(re.findall(rf"Task {re.escape(task)}\[[^\]]+\] received", faults.log_text(worker)))


def succeeded(worker, task: str) -> list[str]:
    """The return values the worker logged for ``task``, in order."""
    return re.findall(rf"Task {re.escape(task)}\[[^\]]+\] succeeded in [0-9.]+s: (.*)", faults.log_text(worker))


def idle(worker) -> bool:
    """Every task the worker received has finished, and nothing waits in the outbox."""
    log = faults.log_text(worker)
    started = len(re.findall(r"Task [\w.]+\[[^\]]+\] received", log))
    finished = len(re.findall(r"Task [\w.]+\[[^\]]+\] (?:succeeded|failed|raised|retry)", log))
    return started == finished and not OutboxMessage.objects.filter(dispatched_at__isnull=True).exists()


@pytest.fixture
def workdir(tmp_path) -> Path:
    """Where a test's servers keep their logs, data and markers (kept by pytest for a failed run)."""
    return tmp_path


# --- Redis killed and restarted -----------------------------------------------------------------------

@pytest.mark.integration
def test_reports_filed_while_redis_is_dead_are_computed_and_delivered_once_it_is_back(world, workdir, client,
                                                                                    settings):
    from pilots.services.webhooks import webhook_subscription_create

    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # the local receiver, here and in the worker
    today = world["today"]
    worker = None
    with faults.throwaway_redis(workdir / "redis") as redis, faults.celery_broker(redis.url), \
            Receiver() as receiver:
        webhook_subscription_create(owner=member("integrator"), url=receiver.url,
                                    events=["report.submitted", "report.approved"], context=ChangeContext.command())
        try:
            worker = faults.start_worker(broker_url=redis.url, workdir=workdir, name="worker",
                                         env={"WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8"})

            # Broker up: sent on commit, computed by the worker, posted to the receiver.
            file_and_approve(world, world["livelihood"], "60.0")
            worker.wait_for(lambda: province_completion(today) == Decimal("45.00"), timeout=FIGURE_TIMEOUT,
                            what="the first approval in the province figure")  # (1 × 0 + 3 × 60) / 4
            worker.wait_for(lambda: len(receiver.bodies) == 2, timeout=FIGURE_TIMEOUT, what="two webhook posts")
            worker.wait_for(lambda: idle(worker), timeout=FIGURE_TIMEOUT, what="the worker to finish its tasks")

            redis.kill()
            down_at = timezone.now()
            file_and_approve(world, world["online"], "80.0")  # 201, then 200: nothing waits on Redis
            pending = OutboxMessage.objects.filter(dispatched_at__isnull=True)
            assert sorted(pending.values_list("task", flat=True)) == [
                "pilots.deliver_webhooks", "pilots.deliver_webhooks",  # report.submitted, report.approved
                "pilots.recompute_pilot_completion", "pilots.recompute_pilot_completion",
                "pilots.refresh_overdue", "pilots.refresh_overdue"]  # and the pilot's overdue items, each time
            assert all("OperationalError" in m.last_error for m in pending)
            readiness = client.get("/readyz")
            assert readiness.status_code == 503 and readiness.json()["checks"]["broker"]["ok"] is False
            assert province_completion(today) == Decimal("45.00")  # the worker never heard of it

            redis.start()  # same port, empty: whatever Redis held is gone
            with time_machine.travel(timezone.now() + dt.timedelta(seconds=30), tick=False):  # the relay's next run
                assert outbox_relay() == 4  # the two identical recomputes (and overdue refreshes) are sent once
                assert outbox_relay() == 0
            down_for = (timezone.now() - down_at).total_seconds()

            worker.wait_for(lambda: province_completion(today) == Decimal("65.00"), timeout=FIGURE_TIMEOUT,
                            what="the approval filed while Redis was down in the province figure")  # (80 + 180) / 4
            worker.wait_for(lambda: len(receiver.bodies) >= 4
                            and not WebhookDelivery.objects.filter(delivered_at__isnull=True).exists(),
                            timeout=FIGURE_TIMEOUT, what="the webhooks of the reports filed while Redis was down")
            worker.assert_alive()  # the same worker reconnected by itself
        finally:
            faults.stop_worker(worker)

    assert pilot_completion(world["pilot"], today) == Decimal("65.00")
    assert not OutboxMessage.objects.filter(dispatched_at__isnull=True).exists()
    events = [json.loads(body) for body in receiver.bodies]
    assert len(events) == 4 and len({e["id"] for e in events}) == 4  # each event posted exactly once
    assert sorted(e["event"] for e in events) == ["report.approved"] * 2 + ["report.submitted"] * 2
    assert WebhookDelivery.objects.count() == 4
    assert set(WebhookDelivery.objects.values_list("attempts", flat=True)) == {1}
    # A: submit and approve each sent on commit; B: its two identical recomputes relayed as one.
    assert received(worker, "pilots.recompute_pilot_completion") == 3
    assert down_for < 30, down_for
    print(f"Redis dead for {down_for:.1f}s: 2 requests accepted, 3 messages relayed, 4 webhooks posted once")


# --- A worker killed in the middle of a recompute -------------------------------------------------------

@pytest.mark.integration
@pytest.mark.parametrize("pool", [
    "prefork",  # production's pool: the task's child process is killed; the worker requeues its message
    "solo",  # the whole worker is killed; Redis hands the unacknowledged message to the next worker
])
def test_a_worker_killed_mid_recompute_commits_nothing_and_the_redelivered_task_computes_the_figures(
        world, workdir, pool):
    from pilots.services.completion import completion_recompute_all

    today = world["today"]
    marker = workdir / "hung"
    hooks = {"FAULTS_HANG_AT": "pilots.services.completion.recompute:_upsert_area_rows", "FAULTS_HANG_MARKER": str(marker),
             "FAULTS_VISIBILITY_TIMEOUT": "2" if pool == "solo" else ""}
    workers = []
    with faults.throwaway_redis(workdir / "redis") as redis, faults.celery_broker(redis.url):
        try:
            file_and_approve(world, world["livelihood"], "60.0")
            pending_approval = file(world, world["online"], "80.0")
            redis.client().flushall()  # the recomputes asked for so far: done here instead, in-process
            completion_recompute_all(as_of=today)
            assert province_completion(today) == Decimal("45.00")  # (1 × 0 + 3 × 60) / 4

            workers.append(faults.start_worker(broker_url=redis.url, workdir=workdir, name="first", pool=pool,
                                               env=hooks))
            last = OutboxMessage.objects.order_by("-pk").values_list("pk", flat=True).first()
            approve(world, pending_approval)  # one recompute, sent on commit
            [message] = OutboxMessage.objects.filter(pk__gt=last, task="pilots.recompute_pilot_completion")
            assert message.task == "pilots.recompute_pilot_completion" and message.dispatched_at is not None
            workers[0].wait_for(marker.exists, timeout=FIGURE_TIMEOUT, what="the recompute to reach the area rollups")
            # Mid-way: the pilot's rows are written in the worker's open transaction, the area rows not yet.
            assert pilot_completion(world["pilot"], today) == Decimal("45.00")  # nothing uncommitted shows

            if pool == "prefork":
                child = int(marker.read_text())
                assert child != workers[0].process.pid
                os.kill(child, signal.SIGKILL)
            else:
                faults.kill_worker(workers[0])
                assert province_completion(today) == Decimal("45.00")  # rolled back, not half-written
                workers.append(faults.start_worker(broker_url=redis.url, workdir=workdir, name="second", pool=pool,
                                                   env=hooks))

            workers[-1].wait_for(lambda: province_completion(today) == Decimal("65.00"), timeout=FIGURE_TIMEOUT,
                                 what="the redelivered recompute")  # (80 + 3 × 60) / 4
            # The figures show at the task's commit; its "succeeded" log line comes a moment later.
            workers[-1].wait_for(lambda: any(succeeded(w, "pilots.recompute_pilot_completion") for w in workers),
                                 timeout=FIGURE_TIMEOUT, what="the worker to log the redelivered task's success")
        finally:
            for worker in workers:
                faults.stop_worker(worker)

    assert pilot_completion(world["pilot"], today) == Decimal("65.00")
    after_redelivery = figures(today)
    completion_recompute_all(as_of=today)
    assert figures(today) == after_redelivery  # exactly what a clean full run computes
    name = "pilots.recompute_pilot_completion"
    assert sum(received(w, name) for w in workers) == 2  # delivered, killed, delivered again
    assert sum(len(succeeded(w, name)) for w in workers) == 1
    message.refresh_from_db()
    assert message.attempts == 1  # the outbox sent it once; the second delivery was the broker's


# --- A worker killed in the middle of a reminder sweep ------------------------------------------------

SWEEP_AT = NOW  # the adjusted working Saturday after 2021Q3's deadline, as in test_reminders_concurrency


@pytest.fixture
def overdue_world():
    build_overdue_quarter()


def emails_by_address(folder: Path) -> dict[str, int]:
    """What Django's file e-mail backend wrote: one count per To address."""
    counts: dict[str, int] = {}
    for path in folder.glob("*.log") if folder.exists() else []:
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("To: "):
                address = line[4:].strip()
                counts[address] = counts.get(address, 0) + 1
    return counts


@pytest.mark.integration
def test_a_worker_killed_mid_sweep_never_sends_a_reminder_twice(overdue_world, workdir):
    from pilots.services.reminders import CLAIM_TIMEOUT

    mail = workdir / "mail"
    clock = workdir / "sweep-now"
    clock.write_text(SWEEP_AT.isoformat())
    marker = workdir / "hung"
    env = {
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend", "EMAIL_FILE_PATH": str(mail),
        "FAULTS_SWEEP_NOW_FILE": str(clock), "FAULTS_VISIBILITY_TIMEOUT": "2",
        # Digests go out e-mail first, one recipient after another: the 4th is where the worker stops.
        "FAULTS_HANG_AT": "pilots.services.reminders.channels:EmailChannel.deliver,pilots.services.reminders.channels:InAppChannel.deliver",
        "FAULTS_HANG_ON_CALL": "4", "FAULTS_HANG_MARKER": str(marker),
    }
    workers = []
    with faults.throwaway_redis(workdir / "redis") as redis, faults.celery_broker(redis.url):
        try:
            workers.append(faults.start_worker(broker_url=redis.url, workdir=workdir, name="first", env=env))
            faults.send_task("pilots.send_reminders")  # what beat sends every 15 minutes
            workers[0].wait_for(marker.exists, timeout=FIGURE_TIMEOUT, what="the sweep to reach its 4th digest")
            total = Reminder.objects.count()
            assert total == RECIPIENTS * 2 * 2  # 2 sub-tasks × (e-mail + in-app)
            assert Reminder.objects.exclude(sent_at=None).count() == 3 * 2  # 3 digests of 2 reminders each
            assert len(emails_by_address(mail)) == 3
            faults.kill_worker(workers[0])

            # Redelivered (acks_late) to a new worker 5 minutes on: the dead run's claims are still its own.
            clock.write_text((SWEEP_AT + dt.timedelta(minutes=5)).isoformat())
            workers.append(faults.start_worker(broker_url=redis.url, workdir=workdir, name="second", env=env))
            [redelivered] = workers[1].wait_for(lambda: succeeded(workers[1], "pilots.send_reminders"),
                                                timeout=FIGURE_TIMEOUT, what="the redelivered sweep")
            assert "'reminders': 0" in redelivered
            assert Reminder.objects.exclude(sent_at=None).count() == 3 * 2

            # Beat's next run after the claim timeout reclaims and sends exactly the rest.
            clock.write_text((SWEEP_AT + CLAIM_TIMEOUT + dt.timedelta(minutes=1)).isoformat())
            faults.send_task("pilots.send_reminders")
            workers[1].wait_for(lambda: not Reminder.objects.filter(sent_at=None).exists(), timeout=FIGURE_TIMEOUT,
                                what="the later sweep to send the dead run's reminders")
            workers[1].wait_for(lambda: len(succeeded(workers[1], "pilots.send_reminders")) == 2,
                                timeout=FIGURE_TIMEOUT, what="the later sweep to finish")
        finally:
            for worker in workers:
                faults.stop_worker(worker)

    assert f"'reminders': {total - 6}" in succeeded(workers[1], "pilots.send_reminders")[1]
    assert set(Reminder.objects.values_list("attempts", flat=True)) == {1}
    assert emails_by_address(mail) == {f"reporter{n}@chengdu.example": 1 for n in range(RECIPIENTS)}
    assert Notification.objects.count() == RECIPIENTS
    assert received(workers[0], "pilots.send_reminders") == 1 and received(workers[1], "pilots.send_reminders") == 2


# --- PostgreSQL unreachable -----------------------------------------------------------------------------

def http(base: str, method: str, path: str, *, body: dict | None = None, headers: dict | None = None,
         timeout: float = 20) -> tuple[int, dict, dict, float]:
    """One request to the real web server: status, JSON body, headers, seconds it took."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, method=method, headers={
        "Accept": "application/json", **({"Content-Type": "application/json"} if data else {}), **(headers or {})})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (a local test server)
            status, raw, response_headers = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        status, raw, response_headers = exc.code, exc.read(), dict(exc.headers)
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        parsed = {"unparsed": raw[:500].decode(errors="replace")}
    return status, parsed, response_headers, time.monotonic() - started


def assert_database_unavailable(response) -> None:
    status, body, headers, _took = response
    assert status == 503, body
    assert set(body) == {"status", "code", "detail", "errors", "request_id"}, body  # the one error shape
    assert (body["status"], body["code"], body["errors"]) == (503, "service_unavailable", [])
    assert body["request_id"] == headers["X-Request-ID"]


def assert_readyz_names_the_database(base: str) -> str:
    status, body, _headers, _took = http(base, "GET", "/readyz")
    assert status == 503, body
    assert body["status"] == "unavailable" and body["checks"]["broker"] == {"ok": True}
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["database"]["reason"].startswith("OperationalError"), body
    return body["checks"]["database"]["reason"]


CONNECT_TIMEOUT = 2  # DB_CONNECT_TIMEOUT for the web server (production default 5)


@pytest.mark.integration
@pytest.mark.postgres
def test_with_postgresql_cut_off_the_api_answers_503_readyz_says_why_and_service_resumes_by_itself(
        world, workdir):
    database = urlsplit(_test_database_url())
    auth = {"Authorization": bearer(world["reporter"], can_write=True)}
    report = report_body(world, world["online"], "30.0")
    with faults.throwaway_redis(workdir / "redis") as redis, \
            faults.tcp_proxy((database.hostname, database.port or 5432)) as proxy:
        userinfo = database.netloc.rpartition("@")[0]
        via_proxy = urlunsplit(database._replace(netloc=f"{userinfo}@127.0.0.1:{proxy.port}"))
        with faults.gunicorn(database_url=via_proxy, broker_url=redis.url, workdir=workdir / "web",
                             env={"DB_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT)}) as web:
            def answered(status: int, path: str = "/api/v1/pilots/"):
                return lambda: http(web.url, "GET", path, headers=auth)[0] == status

            assert http(web.url, "GET", "/readyz")[0] == 200
            status, body, _headers, _took = http(web.url, "GET", "/api/v1/pilots/", headers=auth)
            assert status == 200 and body["count"] == 1  # and the connection is kept (CONN_MAX_AGE)

            # 1. Connections reset, new ones refused (PostgreSQL down, or restarting).
            proxy.cut()
            assert_database_unavailable(http(web.url, "GET", "/api/v1/pilots/", headers=auth))
            assert_database_unavailable(http(web.url, "POST", "/api/v1/reports/", body=report,
                                             headers={**auth, "Idempotency-Key": "fault-1"}))
            assert "refused" in assert_readyz_names_the_database(web.url)
            assert http(web.url, "GET", "/healthz")[0] == 200  # alive: no reason to restart the process

            proxy.restore()
            faults.wait_until(answered(200), timeout=10, what="the API to answer again", diagnostics=web.log_tail)
            assert http(web.url, "GET", "/readyz")[0] == 200
            filed = http(web.url, "POST", "/api/v1/reports/", body=report,
                         headers={**auth, "Idempotency-Key": "fault-1"})
            assert filed[0] == 201, filed[1]  # the client's retry of the refused filing goes through

            # 2. A network that drops packets: connections hang; connect_timeout turns that into a 503.
            proxy.cut(blackhole=True)
            unavailable = http(web.url, "GET", "/api/v1/pilots/", headers=auth)
            assert_database_unavailable(unavailable)
            assert unavailable[3] < CONNECT_TIMEOUT + 3, unavailable[3]
            print(f"blackholed PostgreSQL: 503 after {unavailable[3]:.1f}s (connect_timeout {CONNECT_TIMEOUT}s)")
            assert "timeout" in assert_readyz_names_the_database(web.url).lower()

            proxy.restore()
            faults.wait_until(answered(200), timeout=10, what="the API to answer again", diagnostics=web.log_tail)
            assert web.process.poll() is None
            log = web.log_path.read_text(errors="replace")
            assert log.count("Booting worker") == 1, web.log_tail()  # resumed by itself, nothing restarted

    assert ProgressReport.objects.filter(subtask=world["online"]).count() == 1  # the refused POST wrote nothing


def test_a_post_with_an_idempotency_key_answers_503_when_the_database_fails_as_its_transaction_begins(
        world, monkeypatch):
    """Found by the proxy test above: the key's transaction is opened outside DRF's error handling, so a
    database that went away surfaced as a bare 500 page instead of the API's 503."""
    from types import SimpleNamespace

    from django.db import OperationalError

    from smartcity.api import idempotency

    def unreachable():
        raise OperationalError('connection to server at "127.0.0.1", port 1 failed: Connection refused')

    monkeypatch.setattr(idempotency, "transaction", SimpleNamespace(atomic=unreachable))
    response = world["office"].post("/api/v1/reports/", report_body(world, world["online"], "30.0"), format="json",
                                    HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["code"], body["errors"]) == (503, "service_unavailable", [])
    assert body["request_id"] == response["X-Request-ID"]
