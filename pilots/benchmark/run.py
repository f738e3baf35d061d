"""What the benchmark measures, each figure beside a floor measured in the same run (BENCHMARKS.md).

``run_benchmark`` starts the production stack (``stack.Stack``: gunicorn and a Celery worker) on the
database that ``benchmark_generate`` filled, and measures, in this order (each step leaves the data
as the next one expects it):

1. the nightly full recompute, run by the worker as beat would send it; floor: one SQL statement;
2. the completion endpoints under concurrent load (wrk); floor: the raw SQL computing the same figure;
3. the reminder sweep over the unreported quarter; check: every reminder once, a second sweep sends 0;
4. report ingest, POSTs from wrk with concurrent connections; floor: the one-row write endpoint;
5. one approval to its updated rollup, through the outbox and the worker, as a reviewer sees it.

``check_in_process`` is the part that needs no server (the smoke test runs it on any database).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from pilots import task_names
from pilots.benchmark.generate import BENCH_CODE, bench_periods
from pilots.models import CompletionRollup, Membership, Organisation, Pilot, ProgressReport, Reminder
from pilots.periods import Period
from pilots.services.completion import completion_recompute_all
from pilots.services.reminders import reminder_rules_ensure, reminders_sweep
from smartcity.audit import ChangeContext
from smartcity.auth.services import token_issue
from smartcity.celery import app as celery_app
from smartcity.workdays import is_working_day
from tasks_app.models import Programme, SubTask, Task

TARGETS = {"endpoint_p95_ms": 50, "recompute_s": 15, "recompute_ratio": 2, "recompute_rss_mb": 300, "sweep_s": 60,
           "ingest_rps": 300, "ingest_p95_ms": 150, "ingest_share": 0.4, "approval_s": 2}
WRK_DIR = Path(__file__).resolve().parent / "wrk"
RECOMPUTE_TASK = task_names.RECOMPUTE_ALL_COMPLETION


class BenchmarkError(RuntimeError):
    pass


@dataclass
class Row:
    measure: str
    value: float
    floor: float | None = None
    floor_measure: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.value / self.floor if self.floor else None


@dataclass
class Result:
    as_of: dt.date
    rows: list[Row] = field(default_factory=list)
    checks: dict = field(default_factory=dict)
    queries: dict[str, int] = field(default_factory=dict)

    def table(self) -> str:
        lines = ["| measure | figure | floor | floor measure | ratio | target / note |",
                 "|---|---:|---:|---|---:|---|"]
        for row in self.rows:
            floor = f"{row.floor:.2f}" if row.floor is not None else ""
            ratio = f"{row.ratio:.2f}×" if row.ratio is not None else ""
            lines.append(f"| {row.measure} | {row.value:,.2f} | {floor} | {row.floor_measure} | {ratio} | {row.note} |")
        return "\n".join(lines)


# --- The floors: raw SQL straight from the reports ----------------------------------------------

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


def raw(sql_tail: str, params: dict, where_pilot: str = "") -> tuple[list, float]:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(raw_pilot_sql(where_pilot) + sql_tail, params)
        rows = cursor.fetchall()
    return rows, time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _cutoff(as_of: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min))


def bench_programme() -> Programme:
    programme = Programme.objects.filter(code=BENCH_CODE).first()
    if programme is None:
        raise BenchmarkError("No bench programme: run `manage.py benchmark_generate` first.")
    return programme


def compare_with_raw(result: Result, programme: Programme, as_of: dt.date) -> float:
    """Stored pilot figures against the raw SQL, pilot by pilot; returns the raw statement's seconds."""
    raw_rows, seconds = raw(RAW_PILOTS, {"programme": programme.pk, "cutoff": _cutoff(as_of)})
    stored = dict(CompletionRollup.objects.filter(
        programme=programme, scope=CompletionRollup.Scope.PILOT, as_of=as_of, real_only=False,
    ).values_list("scope_id", "completion"))
    mismatches = [(pk, stored.get(pk), value) for pk, value in raw_rows
                  if stored.get(pk) is None or abs(Decimal(str(stored[pk])) - Decimal(str(value))) > Decimal("0.01")]
    result.checks.update(pilots_compared=len(raw_rows), pilot_mismatch_count=len(mismatches),
                         pilot_mismatches=mismatches[:10])
    return seconds


# --- Accounts ---------------------------------------------------------------------------------

def _member_key(username: str, organisation: Organisation, role: str, *, can_write: bool) -> str:
    user, _ = get_user_model().objects.get_or_create(username=username)
    Membership.objects.update_or_create(user=user, defaults={"organisation": organisation, "role": role})
    _token, key = token_issue(user=user, name="benchmark", can_write=can_write, context=ChangeContext.command())
    return key


def province_key(*, can_write: bool = False) -> str:
    """A provincial reviewer's bearer key (``can_write`` to approve)."""
    organisation, _ = Organisation.objects.get_or_create(
        code="bench-province", defaults={"kind": Organisation.Kind.PROVINCE, "name_zh": "基准省办",
                                         "name_en": "Bench province"})
    return _member_key("bench-province", organisation, Membership.Role.REVIEWER, can_write=can_write)


def reporter_jobs(programme: Programme, period: Period) -> list[tuple[str, int, int]]:
    """(bearer key, pilot, sub-task) for every pilot × sub-task with no report for ``period`` yet,
    each with the write key of a reporter of the pilot's own prefecture office."""
    subtasks = list(SubTask.objects.filter(task__programme=programme).order_by("pk").values_list("pk", flat=True))
    taken = set(ProgressReport.objects.filter(pilot__programme=programme, period=str(period))
                .values_list("pilot_id", "subtask_id"))
    pilots_by_prefecture: dict[int, list[int]] = {}
    for pk, prefecture_id in Pilot.objects.filter(programme=programme).order_by("pk").values_list("pk", "prefecture_id"):
        pilots_by_prefecture.setdefault(prefecture_id, []).append(pk)
    jobs = []
    for office in Organisation.objects.filter(code__startswith="bench-pref-", prefecture_id__in=pilots_by_prefecture
                                              ).order_by("code"):
        key = _member_key(f"bench-{office.code}", office, Membership.Role.REPORTER, can_write=True)
        jobs.extend((key, pilot, subtask) for pilot in pilots_by_prefecture[office.prefecture_id]
                    for subtask in subtasks if (pilot, subtask) not in taken)
    # Interleave prefectures, as offices file at the same time in real life.
    jobs.sort(key=lambda job: (job[2], job[1]))
    return jobs


def unreported_period(programme: Programme) -> Period:
    """The quarter ``benchmark_generate`` left unreported: the last one of the construction windows."""
    first = Pilot.objects.filter(programme=programme).order_by("pk").first()
    period = bench_periods(0)[0]
    while period.end < first.construction_end:
        period = period.next()
    return period


# --- wrk ----------------------------------------------------------------------------------------

@dataclass
class WrkRun:
    requests: int
    seconds: float
    failed: int  # non-2xx/3xx answers, socket errors and timeouts
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return (self.requests - self.failed) / self.seconds


def wrk(url: str, *, script: str, connections: int, duration: float, threads: int = 2,
        headers: tuple[str, ...] = (), args: tuple[str, ...] = ()) -> WrkRun:
    executable = shutil.which("wrk")
    if executable is None:
        raise BenchmarkError("wrk is not installed (Debian: apt-get install wrk).")
    threads = min(threads, connections)
    command = [executable, "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(duration))}s", "--timeout", "30s",
               "-s", str(WRK_DIR / script)]
    for header in headers:
        command += ["-H", header]
    command += [url, "--", *args] if args else [url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 120, check=False)
    line = next((line for line in done.stdout.splitlines() if line.startswith("WRK-RESULT")), None)
    if done.returncode != 0 or line is None:
        raise BenchmarkError(f"wrk failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
    values = {key: int(value) for key, value in (item.split("=") for item in line.split()[1:])}
    failed = sum(values[key] for key in ("connect", "read", "write", "status", "timeout"))
    return WrkRun(requests=values["requests"], seconds=values["duration_us"] / 1e6, failed=failed,
                  p50_ms=values["p50_us"] / 1000, p95_ms=values["p95_us"] / 1000, p99_ms=values["p99_us"] / 1000)


# --- The run ------------------------------------------------------------------------------------

@dataclass
class Options:
    duration: float = 20.0  # seconds of load per wrk run
    connections: int = 8  # concurrent clients of the ingest
    read_connections: int = 4  # concurrent clients of the dashboard reads
    raw_repeats: int = 20
    approvals: int = 5
    web_workers: int = 3
    concurrency: int = 2


def run_benchmark(options: Options, *, log=print) -> Result:
    from pilots.benchmark.stack import Stack

    programme = bench_programme()
    today = timezone.localdate()
    result = Result(as_of=today)
    read_key = province_key()
    review_key = province_key(can_write=True)
    period = unreported_period(programme)
    jobs = reporter_jobs(programme, period)
    if len(jobs) < 2:
        raise BenchmarkError(f"No unreported pilot × sub-task left for {period}: run benchmark_generate --reset.")
    probe_job, jobs = jobs[-1], jobs[:-1]  # one POST in this process, to count its queries
    reminder_rules_ensure()
    connection.close()  # the stack's processes must not inherit this connection

    log(f"starting gunicorn ({options.web_workers} workers) and a Celery worker ({options.concurrency} processes)")
    with Stack(web_workers=options.web_workers, concurrency=options.concurrency) as stack:
        log("1. the nightly full recompute, in the worker")
        _measure_recompute(result, stack, programme, today, options)
        log("2. completion endpoints under load")
        _measure_endpoints(result, stack, programme, read_key, options)
        log("3. the reminder sweep")
        sweep_checks(result, programme)
        log("4. report ingest")
        _measure_ingest(result, stack, period, jobs, probe_job, options)
        log("5. approval to updated rollup")
        _measure_approvals(result, stack, programme, review_key, options)
    return result


def _measure_recompute(result: Result, stack, programme: Programme, as_of: dt.date, options: Options) -> None:
    before = len(stack.task_runtimes(RECOMPUTE_TASK))
    celery_app.send_task(RECOMPUTE_TASK, kwargs={"as_of": as_of.isoformat()})
    runtimes = stack.wait_for_task(RECOMPUTE_TASK, before + 1, timeout=900)
    rss = stack.worker_peak_rss_mb()
    floor_times = [compare_with_raw(result, programme, as_of) for _ in range(max(1, options.raw_repeats // 5))]
    result.rows.append(Row("full recompute in the worker (recompute_all_completion), s", runtimes[-1],
                           min(floor_times), "raw SQL per-pilot means, s",
                           f"< {TARGETS['recompute_s']} s and ≤ {TARGETS['recompute_ratio']}× raw"))
    result.rows.append(Row("worker peak RSS (VmHWM of the pool process), MB", rss, None, "",
                           f"< {TARGETS['recompute_rss_mb']} MB"))


def _measure_endpoints(result: Result, stack, programme: Programme, key: str, options: Options) -> None:
    first = Pilot.objects.filter(programme=programme).order_by("pk").first()
    params = {"programme": programme.pk, "cutoff": _cutoff(result.as_of)}
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    endpoints = [
        (f"/api/v1/completion/province/?programme={BENCH_CODE}", RAW_PROVINCE, ""),
        (f"/api/v1/completion/prefectures/?programme={BENCH_CODE}", RAW_PREFECTURES, ""),
        (f"/api/v1/pilots/{first.pk}/completion/", RAW_PILOTS, f"AND p.id = {int(first.pk)}"),
    ]
    for url, raw_tail, where in endpoints:
        label = url.split("?")[0].replace(f"/pilots/{first.pk}/", "/pilots/{id}/")
        status, _headers, body = stack.request("GET", url, headers={"Authorization": f"Bearer {key}"})
        if status != 200:
            raise BenchmarkError(f"{url} answered {status}: {body[:300]!r}")
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        result.queries[f"GET {label}"] = len(queries)
        run = wrk(stack.base_url + url, script="get.lua", connections=options.read_connections,
                  duration=options.duration, headers=(f"Authorization: Bearer {key}",))
        if run.failed:
            raise BenchmarkError(f"{url}: {run.failed} of {run.requests} requests failed under load")
        raw_times = [raw(raw_tail, params, where)[1] * 1000 for _ in range(options.raw_repeats)]
        note = f"{options.read_connections} clients, {run.rate:,.0f} req/s, {len(queries)} queries"
        result.rows.append(Row(f"GET {label} p50, ms", run.p50_ms, statistics.median(raw_times), "raw SQL p50, ms",
                               note))
        result.rows.append(Row(f"GET {label} p95, ms", run.p95_ms, percentile(raw_times, 0.95), "raw SQL p95, ms",
                               f"< {TARGETS['endpoint_p95_ms']} ms and < raw"))


def sweep_checks(result: Result, programme: Programme) -> None:
    """The sweep on the first working day after the unreported quarter's deadline, 10:00, twice."""
    reminder_rules_ensure()
    period = unreported_period(programme)
    day = period.deadline(programme.report_due_days).date + dt.timedelta(days=1)
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    now = timezone.make_aware(dt.datetime.combine(day, dt.time(10, 0)))
    before = Reminder.objects.count()
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        started = time.perf_counter()
        swept = reminders_sweep(now=now)
        seconds = time.perf_counter() - started
        again = reminders_sweep(now=now)
    total = Reminder.objects.count()
    distinct = Reminder.objects.values("item_key", "kind", "level", "occurrence", "recipient").distinct().count()
    items = Reminder.objects.values("item_key").distinct().count()
    result.rows.append(Row(f"reminder sweep ({total - before:,} reminders, {items:,} items), s", seconds, None, "",
                           f"< {TARGETS['sweep_s']} s for 100,000 items"))
    result.checks.update(reminders=total, reminders_distinct=distinct, sweep=swept, second_sweep=again)


def _measure_ingest(result: Result, stack, period: Period, jobs: list, probe_job: tuple, options: Options) -> None:
    def body(pilot: int, subtask: int) -> dict:
        return {"pilot": pilot, "subtask": subtask, "period": str(period), "percent_complete": "100.0",
                "status": "completed", "narrative": "基准测试 benchmark"}

    probe_key, probe_pilot, probe_subtask = probe_job
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {probe_key}")
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/v1/reports/", body(probe_pilot, probe_subtask), format="json")
    if response.status_code != 201:
        raise BenchmarkError(f"POST /api/v1/reports/ answered {response.status_code}: {response.content[:300]!r}")
    result.queries["POST /api/v1/reports/"] = len(queries)
    connection.close()

    workdir = Path(tempfile.mkdtemp(prefix="smartcity-ingest-"))
    try:
        reports = workdir / "reports.txt"
        reports.write_text("".join(f"{key} {json.dumps(body(pilot, subtask))}\n" for key, pilot, subtask in jobs))
        floor = workdir / "floor.txt"
        floor.write_text("".join(f"{key} {{}}\n" for key, _pilot, _subtask in jobs[:5000]))
        threads = 2
        before = ProgressReport.objects.filter(period=str(period)).count()
        ingest = wrk(stack.base_url + "/api/v1/reports/", script="post_lines.lua", connections=options.connections,
                     duration=options.duration, threads=threads, args=(str(reports), str(threads)))
        created = ProgressReport.objects.filter(period=str(period)).count() - before
        floor_run = wrk(stack.base_url + "/api/v1/_benchmark/floor-write/", script="post_lines.lua",
                        connections=options.connections, duration=options.duration, threads=threads,
                        args=(str(floor), str(threads)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    answered = ingest.requests - ingest.failed
    result.checks.update(ingest_requests=ingest.requests, ingest_failed=ingest.failed, ingest_created=created,
                         ingest_pool=len(jobs), floor_failed=floor_run.failed)
    # wrk stops counting at the end of its run with up to one request per connection still in flight,
    # which the server may still complete: anything else is a report lost or filed twice.
    if not answered <= created <= answered + options.connections:
        raise BenchmarkError(f"ingest: {answered} answered 201 but {created} reports were written")
    if floor_run.failed:
        raise BenchmarkError(f"floor endpoint: {floor_run.failed} of {floor_run.requests} requests failed")
    note = (f"{created:,} created, {ingest.failed} refused, {options.connections} clients, "
            f"gunicorn {options.web_workers} workers; {len(queries)} queries")
    share = ingest.rate / floor_run.rate if floor_run.rate else 0
    result.rows.append(Row("report ingest, reports/s", ingest.rate, floor_run.rate,
                           "POST one-row write endpoint, req/s", note))
    result.checks["ingest_share_of_floor"] = round(share, 3)
    for q, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        result.rows.append(Row(f"report ingest {name}, ms", getattr(ingest, f"{name}_ms"),
                               getattr(floor_run, f"{name}_ms"), f"floor {name}, ms",
                               f"< {TARGETS['ingest_p95_ms']} ms" if name == "p95" else ""))


def _measure_approvals(result: Result, stack, programme: Programme, key: str, options: Options) -> None:
    """Approve submitted reports one at a time; time from the POST until the pilot's completion shows it."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    submitted = ProgressReport.objects.filter(pilot__programme=programme, state=ProgressReport.State.SUBMITTED)
    pending: dict[int, ProgressReport] = {}  # one per pilot: each approval recomputes a different pilot
    for report in submitted.order_by("pk")[:options.approvals * 20]:
        pending.setdefault(report.pilot_id, report)
    pending = dict(list(pending.items())[:options.approvals])
    connection.close()
    latencies = []
    for report in pending.values():
        status, response_headers, body = stack.request("GET", f"/api/v1/reports/{report.pk}/", headers=headers)
        if status != 200:
            raise BenchmarkError(f"GET report {report.pk}: {status} {body[:200]!r}")
        etag = {k.lower(): v for k, v in response_headers.items()}["etag"]
        started = time.perf_counter()
        status, _h, body = stack.request("POST", f"/api/v1/reports/{report.pk}/approve/", body=b"{}",
                                         headers={**headers, "If-Match": etag})
        if status != 200:
            raise BenchmarkError(f"approve report {report.pk}: {status} {body[:300]!r}")
        deadline = time.monotonic() + 60
        while not _rollup_shows(stack, headers, report):
            if time.monotonic() > deadline:
                raise BenchmarkError(f"the approval of report {report.pk} did not reach the rollup in 60 s")
            time.sleep(0.01)
        latencies.append(time.perf_counter() - started)
    if latencies:
        result.rows.append(Row(f"approval to updated pilot rollup, median of {len(latencies)}, s",
                               statistics.median(latencies), None, "",
                               f"< {TARGETS['approval_s']} s (max {max(latencies):.2f} s)"))
    result.checks["approvals"] = len(latencies)


def _rollup_shows(stack, headers: dict, report: ProgressReport) -> bool:
    status, _h, body = stack.request("GET", f"/api/v1/pilots/{report.pilot_id}/completion/", headers=headers)
    if status != 200:
        return False
    for task in json.loads(body)["tasks"]:
        for row in task["subtasks"]:
            if row["subtask"]["id"] == report.subtask_id:
                return row["approved_period"] == report.period and row["pending_percent"] is None
    return False


# --- Without a server -------------------------------------------------------------------------

def check_in_process(*, as_of: dt.date | None = None) -> Result:
    """The recompute in this process against the raw SQL, and the sweep's uniqueness: correctness only."""
    programme = bench_programme()
    as_of = as_of or timezone.localdate()
    result = Result(as_of=as_of)
    started = time.perf_counter()
    completion_recompute_all(as_of=as_of)
    seconds = time.perf_counter() - started
    floor = compare_with_raw(result, programme, as_of)
    result.rows.append(Row("full recompute in process, s", seconds, floor, "raw SQL per-pilot means, s"))
    sweep_checks(result, programme)
    return result
