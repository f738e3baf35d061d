"""Measure the bench programme (``benchmark_generate``) on the production stack; prints one table.

    python manage.py benchmark            # gunicorn + Celery worker + wrk; see BENCHMARKS.md
    python manage.py benchmark --smoke    # a few seconds per step: checks everything runs and agrees
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from pilots.benchmark.run import BenchmarkError, Options, run_benchmark


class Command(BaseCommand):
    help = ("Start gunicorn and a Celery worker on this database and measure recompute, completion endpoints, "
            "reminder sweep, report ingest and approval latency of the bench programme, each beside its floor.")

    def add_arguments(self, parser):
        defaults = Options()
        parser.add_argument("--duration", type=float, default=defaults.duration,
                            help="Seconds of load per wrk run (default %(default)s).")
        parser.add_argument("--connections", type=int, default=defaults.connections,
                            help="Concurrent clients filing reports (default %(default)s).")
        parser.add_argument("--read-connections", type=int, default=defaults.read_connections,
                            help="Concurrent clients reading the completion endpoints (default %(default)s).")
        parser.add_argument("--raw-repeats", type=int, default=defaults.raw_repeats,
                            help="Runs of each raw SQL floor (default %(default)s).")
        parser.add_argument("--approvals", type=int, default=defaults.approvals,
                            help="Approvals timed to their updated rollup (default %(default)s).")
        parser.add_argument("--web-workers", type=int, default=defaults.web_workers)
        parser.add_argument("--concurrency", type=int, default=defaults.concurrency, help="Celery worker processes.")
        parser.add_argument("--smoke", action="store_true",
                            help="Two seconds per load run and few repeats: proves it runs, claims no figures.")
        parser.add_argument("--json", dest="json_path", help="Also write the rows and checks to this file.")

    def handle(self, *args, smoke, json_path, **options):
        chosen = Options(duration=options["duration"], connections=options["connections"],
                         read_connections=options["read_connections"], raw_repeats=options["raw_repeats"],
                         approvals=options["approvals"], web_workers=options["web_workers"],
                         concurrency=options["concurrency"])
        if smoke:
            chosen = Options(duration=2, connections=2, read_connections=2, raw_repeats=2, approvals=2,
                             web_workers=2, concurrency=1)
        try:
            result = run_benchmark(chosen, log=lambda line: self.stdout.write(line))
        except BenchmarkError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"\nas of {result.as_of}, {connection.vendor}, {chosen}")
        self.stdout.write(result.table())
        self.stdout.write("queries per request: " + ", ".join(f"{k}: {v}" for k, v in result.queries.items()))
        checks = result.checks
        self.stdout.write(f"checks: {checks}")
        if json_path:
            with open(json_path, "w") as handle:
                json.dump({"as_of": str(result.as_of), "rows": [vars(row) for row in result.rows],
                           "queries": result.queries, "checks": checks}, handle, default=str, indent=1)
        if checks["pilot_mismatch_count"]:
            raise CommandError(f"The stored figures differ from the raw SQL: {checks['pilot_mismatches']}")
        if checks["reminders"] != checks["reminders_distinct"]:
            raise CommandError("A reminder was recorded twice.")
        if checks["second_sweep"].get("reminders"):
            raise CommandError("The second sweep sent reminders again.")
        if checks["approvals"] < min(chosen.approvals, 1):
            raise CommandError("No approval was timed: the bench data has no submitted report.")
