"""Measure the bench programme (``benchmark_generate``) against raw-SQL floors; prints one table.

    python manage.py benchmark            # after benchmark_generate; see BENCHMARKS.md
    python manage.py benchmark --smoke    # tiny: checks it runs and the figures agree, no timing claims
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import statistics
import time
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from pilots.management.commands.benchmark_generate import BENCH_CODE, bench_periods
from pilots.models import CompletionRollup, Membership, Organisation, Pilot, ProgressReport, Reminder
from pilots.services.completion import completion_recompute_all
from pilots.services.reminders import reminder_rules_ensure, reminders_sweep
from smartcity.audit import ChangeContext
from smartcity.auth.services import token_issue
from smartcity.workdays import is_working_day
from tasks_app.models import Programme, SubTask, Task

TARGETS = {"endpoint_p95_ms": 50, "recompute_s": 15, "recompute_ratio": 2, "recompute_rss_mb": 300, "sweep_s": 60}


def _t(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def raw_pilot_sql(where_pilot: str = "") -> str:
    """One statement: each pilot's weighted mean of its latest approved report per sub-task (0 when none)."""
    return f"""
WITH ranked AS (
    SELECT r.pilot_id, r.subtask_id, r.percent_complete,
           ROW_NUMBER() OVER (PARTITION BY r.pilot_id, r.subtask_id
                              ORDER BY r.period_start DESC, r.revision DESC) AS rn
    FROM {_t(ProgressReport)} r JOIN {_t(Pilot)} p ON p.id = r.pilot_id
    WHERE p.programme_id = %(programme)s AND r.state = 'approved' AND r.reviewed_at < %(cutoff)s {where_pilot}
), per_pilot AS (
    SELECT p.id AS pilot_id, p.prefecture_id,
           ROUND(SUM(st.weight * COALESCE(l.percent_complete, 0)) * 1.0 / SUM(st.weight), 2) AS completion
    FROM {_t(Pilot)} p
    CROSS JOIN {_t(SubTask)} st
    JOIN {_t(Task)} t ON t.id = st.task_id AND t.programme_id = p.programme_id
    LEFT JOIN ranked l ON l.pilot_id = p.id AND l.subtask_id = st.id AND l.rn = 1
    WHERE p.programme_id = %(programme)s AND p.state <> 'revoked' {where_pilot}
    GROUP BY p.id, p.prefecture_id
)"""


RAW_PILOTS = "SELECT pilot_id, completion FROM per_pilot ORDER BY pilot_id"
RAW_PREFECTURES = "SELECT prefecture_id, ROUND(AVG(completion), 2) FROM per_pilot GROUP BY prefecture_id"
RAW_PROVINCE = "SELECT ROUND(AVG(completion), 2), COUNT(*) FROM per_pilot"


def _raw(sql_tail: str, params: dict, where_pilot: str = "") -> tuple[list, float]:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(raw_pilot_sql(where_pilot) + sql_tail, params)
        rows = cursor.fetchall()
    return rows, time.perf_counter() - started


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def recompute_in_child(as_of: dt.date) -> tuple[float, float]:
    """completion_recompute_all in a forked child: wall seconds and the child's peak RSS in MB."""
    connections.close_all()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            completion_recompute_all(as_of=as_of)
        except BaseException:  # noqa: BLE001 - reported through the exit status
            import traceback
            traceback.print_exc()
            code = 1
        finally:
            connections.close_all()
            os._exit(code)
    _pid, status = os.waitpid(pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise CommandError("The recompute failed in the child process.")
    return elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _province_client() -> APIClient:
    organisation, _ = Organisation.objects.get_or_create(
        code="bench-province", defaults={"kind": Organisation.Kind.PROVINCE, "name_zh": "基准省办", "name_en": "Bench province"})
    from django.contrib.auth import get_user_model
    user, _ = get_user_model().objects.get_or_create(username="bench-province")
    Membership.objects.get_or_create(user=user, defaults={"organisation": organisation, "role": Membership.Role.REVIEWER})
    _token, key = token_issue(user=user, can_write=False, context=ChangeContext.command())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def run_benchmark(*, requests: int = 200, raw_repeats: int = 20, in_process: bool = False, out=None) -> dict:
    programme = Programme.objects.filter(code=BENCH_CODE).first()
    if programme is None:
        raise CommandError("No bench programme: run benchmark_generate first.")
    first = Pilot.objects.filter(programme=programme).order_by("pk").first()
    as_of = first.construction_end  # every generated quarter reviewed by then
    cutoff = timezone.make_aware(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min))
    params = {"programme": programme.pk, "cutoff": cutoff}
    result: dict = {"as_of": as_of, "rows": [], "checks": {}}
    rows = result["rows"]

    # 1. Full recompute vs the single SQL statement it is built on.
    if in_process:
        started = time.perf_counter()
        completion_recompute_all(as_of=as_of)
        recompute_s, rss = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    else:
        recompute_s, rss = recompute_in_child(as_of)
    raw_rows, raw_s = _raw(RAW_PILOTS, params)
    rows.append(("full recompute (completion_recompute_all), s", recompute_s, raw_s, "raw SQL per-pilot means, s",
                 f"< {TARGETS['recompute_s']} s and ≤ {TARGETS['recompute_ratio']}× raw"))
    rows.append(("recompute peak RSS (child process), MB", rss, None, "", f"< {TARGETS['recompute_rss_mb']} MB"))
    stored = dict(CompletionRollup.objects.filter(
        programme=programme, scope=CompletionRollup.Scope.PILOT, as_of=as_of, real_only=False,
    ).values_list("scope_id", "completion"))
    mismatches = [(pk, stored.get(pk), value) for pk, value in raw_rows
                  if stored.get(pk) is None or abs(Decimal(str(stored[pk])) - Decimal(str(value))) > Decimal("0.01")]
    result["checks"]["pilots_compared"] = len(raw_rows)
    result["checks"]["pilot_mismatches"] = mismatches[:10]
    result["checks"]["pilot_mismatch_count"] = len(mismatches)

    # 2. Endpoints vs the raw SQL computing the same figures from reports.
    client = _province_client()
    pilot_id = first.pk
    endpoints = [
        ("/api/v1/completion/province/", RAW_PROVINCE, ""),
        ("/api/v1/completion/prefectures/", RAW_PREFECTURES, ""),
        (f"/api/v1/pilots/{pilot_id}/completion/", RAW_PILOTS, f"AND p.id = {int(pilot_id)}"),
    ]
    for url, raw_tail, where in endpoints:
        query = {"as_of": as_of.isoformat()}
        if "/pilots/" not in url:
            query["programme"] = BENCH_CODE
        response = client.get(url, query)
        if response.status_code != 200:
            raise CommandError(f"{url} answered {response.status_code}: {response.content[:300]!r}")
        with CaptureQueriesContext(connection) as queries:
            client.get(url, query)
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            client.get(url, query)
            times.append(time.perf_counter() - started)
        raw_times = [_raw(raw_tail, params, where)[1] for _ in range(raw_repeats)]
        label = url.replace(str(pilot_id), "{id}")
        rows.append((f"GET {label} p50, ms", statistics.median(times) * 1000, statistics.median(raw_times) * 1000,
                     "raw SQL p50, ms", f"({len(queries)} queries)"))
        rows.append((f"GET {label} p95, ms", _pct(times, 0.95) * 1000, _pct(raw_times, 0.95) * 1000,
                     "raw SQL p95, ms", f"< {TARGETS['endpoint_p95_ms']} ms and < raw"))
        result["checks"][f"queries {label}"] = len(queries)

    # 3. Reminder sweep on the first working day after the unreported quarter's deadline.
    reminder_rules_ensure()
    last = bench_periods(0)[0]
    while last.end < as_of:
        last = last.next()
    day = last.deadline(programme.report_due_days).date + dt.timedelta(days=1)
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    now = timezone.make_aware(dt.datetime.combine(day, dt.time(10, 0)))
    before = Reminder.objects.count()
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        started = time.perf_counter()
        swept = reminders_sweep(now=now)
        sweep_s = time.perf_counter() - started
        again = reminders_sweep(now=now)
    total = Reminder.objects.count()
    distinct = Reminder.objects.values("item_key", "kind", "level", "occurrence", "recipient").distinct().count()
    items = Reminder.objects.values("item_key").distinct().count()
    rows.append((f"reminder sweep ({total - before:,} reminders, {items:,} items), s", sweep_s, None, "",
                 f"< {TARGETS['sweep_s']} s for 100,000 items"))
    result["checks"].update(reminders=total, reminders_distinct=distinct, sweep=swept, second_sweep=again)
    return result


def _reporter_tokens(programme, count: int) -> list[tuple[str, list[tuple[int, int]]]]:
    """Bearer keys of ``count`` bench prefecture reporters, each with its pilots × sub-tasks."""
    from django.contrib.auth import get_user_model
    subtasks = list(SubTask.objects.filter(task__programme=programme).values_list("pk", flat=True))
    out = []
    for office in Organisation.objects.filter(code__startswith="bench-pref-").order_by("code")[:count]:
        user, _ = get_user_model().objects.get_or_create(username=f"bench-{office.code}")
        Membership.objects.get_or_create(user=user, defaults={"organisation": office, "role": Membership.Role.REPORTER})
        _token, key = token_issue(user=user, can_write=True, context=ChangeContext.command())
        pilots = Pilot.objects.filter(programme=programme, prefecture_id=office.prefecture_id).values_list("pk", flat=True)
        out.append((key, [(p, s) for p in pilots for s in subtasks]))
    return out


def run_ingest(*, reports: int, clients: int, port: int) -> list[tuple]:
    """POST new reports to gunicorn (2 workers) from a thread pool; floor: a minimal authenticated POST."""
    import json
    import subprocess
    import sys
    import urllib.error
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    programme = Programme.objects.get(code=BENCH_CODE)
    first = Pilot.objects.filter(programme=programme).order_by("pk").first()
    period = bench_periods(0)[0]
    while period.end < first.construction_end:
        period = period.next()  # the quarter benchmark_generate left unreported
    tokens = _reporter_tokens(programme, clients * 4)
    jobs = [(key, pilot, subtask) for key, pairs in tokens for pilot, subtask in pairs][:reports]
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "smartcity.wsgi", "--bind", f"127.0.0.1:{port}",
                               "--workers", "2", "--no-control-socket"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)

        def post(url, key, body):
            request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else b"",
                                             method="POST", headers={"Authorization": f"Bearer {key}",
                                                                     "Content-Type": "application/json"})
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    code = response.status
            except urllib.error.HTTPError as error:
                code = error.code
            return time.perf_counter() - started, code

        def measure(calls):
            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                done = list(pool.map(lambda c: post(*c), calls))
            return time.perf_counter() - started, done

        report_calls = [(f"{base}/api/v1/reports/", key,
                         {"pilot": pilot, "subtask": subtask, "period": str(period), "percent_complete": "100.0",
                          "status": "completed"}) for key, pilot, subtask in jobs]
        floor_calls = [(f"{base}/api/v1/notifications/read-all/", jobs[i % len(jobs)][0], None)
                       for i in range(len(jobs))]
        wall, done = measure(report_calls)
        floor_wall, floor_done = measure(floor_calls)
    finally:
        server.terminate()
        server.wait(timeout=30)
    ok = [t for t, code in done if code == 201]
    floor_ok = [t for t, code in floor_done if code == 200]
    if not ok or not floor_ok:
        codes = sorted({code for _t, code in done} | {code for _t, code in floor_done})
        raise CommandError(f"Ingest failed: status codes {codes}")
    note = f"{len(ok)}/{len(done)} created, {clients} clients, gunicorn 2 workers"
    rows = [("report ingest, reports/s", len(ok) / wall, len(floor_ok) / floor_wall,
             "POST notifications/read-all/ (1 UPDATE), req/s", note)]
    for q in (0.5, 0.95, 0.99):
        rows.append((f"report ingest p{int(q * 100)}, ms", _pct(ok, q) * 1000, _pct(floor_ok, q) * 1000,
                     f"floor p{int(q * 100)}, ms", ""))
    return rows


def format_table(result: dict) -> str:
    lines = ["| measure | figure | floor | floor measure | ratio | target / note |", "|---|---:|---:|---|---:|---|"]
    for name, value, floor, floor_name, note in result["rows"]:
        ratio = f"{value / floor:.2f}×" if floor else ""
        floor_text = f"{floor:.2f}" if floor is not None else ""
        lines.append(f"| {name} | {value:.2f} | {floor_text} | {floor_name} | {ratio} | {note} |")
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Benchmark recompute, completion endpoints and the reminder sweep on the bench programme."

    def add_arguments(self, parser):
        parser.add_argument("--requests", type=int, default=200)
        parser.add_argument("--raw-repeats", type=int, default=20)
        parser.add_argument("--smoke", action="store_true", help="Tiny run: checks only, no timing claims.")
        parser.add_argument("--ingest", type=int, default=0, help="POST this many reports to gunicorn (0: skip).")
        parser.add_argument("--clients", type=int, default=8)
        parser.add_argument("--port", type=int, default=18093)
        parser.add_argument("--in-process", action="store_true", help="Recompute in this process (no fork).")

    def handle(self, *args, requests, raw_repeats, smoke, in_process, ingest, clients, port, **options):
        if smoke:
            requests, raw_repeats = 3, 2
        result = run_benchmark(requests=requests, raw_repeats=raw_repeats, in_process=in_process or smoke)
        if ingest and not smoke:
            result["rows"].extend(run_ingest(reports=ingest, clients=clients, port=port))
        self.stdout.write(f"as of {result['as_of']}, {connection.vendor}, {requests} requests per endpoint")
        self.stdout.write(format_table(result))
        checks = result["checks"]
        self.stdout.write(f"checks: {checks}")
        if checks["pilot_mismatch_count"]:
            raise CommandError(f"Recompute differs from raw SQL: {checks['pilot_mismatches']}")
        if checks["reminders"] != checks["reminders_distinct"]:
            raise CommandError("A reminder was recorded twice.")
