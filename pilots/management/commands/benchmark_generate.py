"""Fill the database with a national-scale benchmark programme (code ``bench``), kept apart from the real one.

    python manage.py benchmark_generate                       # 300 prefectures, 3000 pilots, 12 quarters
    python manage.py benchmark_generate --prefectures 3 --pilots 30 --quarters 4 --reset

The generator is ``pilots.benchmark.generate``; see BENCHMARKS.md.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from pilots.benchmark.generate import bench_reset, benchmark_generate


class Command(BaseCommand):
    help = "Generate the national-scale benchmark programme (code 'bench'); see BENCHMARKS.md."

    def add_arguments(self, parser):
        parser.add_argument("--prefectures", type=int, default=300)
        parser.add_argument("--pilots", type=int, default=3000)
        parser.add_argument("--quarters", type=int, default=12)
        parser.add_argument("--reset", action="store_true", help="Delete the bench programme's data first.")

    def handle(self, *args, prefectures, pilots, quarters, reset, **options):
        started = time.perf_counter()
        if reset:
            deleted = bench_reset()
            self.stdout.write(f"reset: {deleted} in {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
        counts = benchmark_generate(prefectures=prefectures, pilots=pilots, quarters=quarters)
        elapsed = time.perf_counter() - started
        total = sum(v for k, v in counts.items() if k not in ("prefectures", "pilots", "subtasks"))
        for name, value in counts.items():
            self.stdout.write(f"{name:>20}: {value:,}")
        self.stdout.write(f"wrote {total:,} rows in {elapsed:.1f} s")
