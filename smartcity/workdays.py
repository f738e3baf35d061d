"""Working days in mainland China: weekends, statutory holidays and adjusted working days (调休).

The ``chinese_calendar`` package knows each year once the State Council has published its holiday
arrangement (usually in November for the following year). For a year it does not know yet, weekends
are the only non-working days and the answer is marked *provisional*: a deadline computed that way
may move once the year's arrangement is published and the package updated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import chinese_calendar


@dataclass(frozen=True)
class WorkdayAnswer:
    is_working_day: bool
    known: bool  # False: the calendar has no data for that year; weekends only


@lru_cache(maxsize=4096)
def working_day(day: dt.date) -> WorkdayAnswer:
    try:
        return WorkdayAnswer(chinese_calendar.is_workday(day), True)
    except NotImplementedError:
        return WorkdayAnswer(day.weekday() < 5, False)


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
