"""Working days in mainland China: weekends, statutory holidays and adjusted working days (调休).

The calendar is data the provincial office keeps (``smartcity.models.calendar``): the days that are
not what their weekday says, and the years whose whole arrangement has been entered. A day not listed
is a working day from Monday to Friday. For a year whose arrangement has not been entered, the answer
is marked *provisional*: a deadline computed that way may move once the arrangement is entered.

Each process keeps the calendar in memory (a few hundred rows) and re-reads it when the calendar's
revision number has changed: a process that changes the calendar forgets its copy at once; every
other process (gunicorn workers, Celery workers) checks the number at the start of each request and
task (``calendar_expire``) and at most every ``RECHECK_SECONDS`` in between.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

RECHECK_SECONDS = 5.0


@dataclass(frozen=True)
class WorkdayAnswer:
    is_working_day: bool
    known: bool  # False: the arrangement of that year has not been entered; weekends only


@dataclass(frozen=True)
class _Snapshot:
    revision: int
    working: dict[dt.date, bool]  # the listed days: True for an adjusted working day, False for a holiday
    known_years: frozenset[int]


class _CalendarCache:
    def __init__(self):
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._checked_at = 0.0

    def expire(self) -> None:
        """Check the revision on the next use (a new request or task begins)."""
        self._checked_at = 0.0

    def forget(self) -> None:
        """Re-read on the next use (this process changed the calendar)."""
        with self._lock:
            self._snapshot = None
            self._checked_at = 0.0

    def get(self) -> _Snapshot:
        snapshot, now = self._snapshot, time.monotonic()
        if snapshot is not None and now - self._checked_at < RECHECK_SECONDS:
            return snapshot
        with self._lock:
            revision = _current_revision()
            if self._snapshot is None or self._snapshot.revision != revision:
                self._snapshot = _load(revision)
            self._checked_at = now
            return self._snapshot


def _current_revision() -> int:
    from smartcity.models import CalendarRevision

    return CalendarRevision.objects.filter(pk=1).values_list("number", flat=True).first() or 0


def _load(revision: int) -> _Snapshot:
    from smartcity.models import CalendarDay, CalendarYear

    working = {day: kind == CalendarDay.Kind.WORKDAY for day, kind in CalendarDay.objects.values_list("date", "kind")}
    years = frozenset(CalendarYear.objects.values_list("year", flat=True))
    return _Snapshot(revision, working, years)


_cache = _CalendarCache()


def calendar_expire(**_signal_kwargs) -> None:
    """Connected to request_started and Celery's task_prerun: check the revision before the next answer."""
    _cache.expire()


def calendar_forget() -> None:
    _cache.forget()


def known_years() -> frozenset[int]:
    return _cache.get().known_years


def working_day(day: dt.date) -> WorkdayAnswer:
    snapshot = _cache.get()
    listed = snapshot.working.get(day)
    return WorkdayAnswer(day.weekday() < 5 if listed is None else listed, day.year in snapshot.known_years)


def is_working_day(day: dt.date) -> bool:
    return working_day(day).is_working_day


def calendar_known(day: dt.date) -> bool:
    return working_day(day).known


def next_working_day(day: dt.date) -> dt.date:
    """``day`` itself if it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def add_working_days(day: dt.date, count: int) -> dt.date:
    """The date ``count`` working days after ``day`` (``day`` itself not counted)."""
    step = dt.timedelta(days=1 if count >= 0 else -1)
    remaining = abs(count)
    while remaining:
        day += step
        if is_working_day(day):
            remaining -= 1
    return day


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days in the half-open interval (start, end]."""
    if end <= start:
        return 0
    return sum(1 for n in range(1, (end - start).days + 1) if is_working_day(start + dt.timedelta(days=n)))
