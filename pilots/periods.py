"""Reporting periods (quarters such as ``2021Q3``) and their deadlines, in Asia/Shanghai dates."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from smartcity.workdays import calendar_known, next_working_day

_PERIOD = re.compile(r"^(?P<year>\d{4})Q(?P<quarter>[1-4])$")


class InvalidPeriod(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Deadline:
    date: dt.date
    provisional: bool  # the holiday calendar does not know that year yet


@dataclass(frozen=True, order=True)
class Period:
    year: int
    quarter: int

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.match(str(text).strip().upper())
        if not match:
            raise InvalidPeriod(_("A period is a year and a quarter, written like 2021Q3."))
        year = int(match["year"])
        if not 2000 <= year <= 2100:
            raise InvalidPeriod(_("The year of a period must lie between 2000 and 2100."))
        return cls(year, int(match["quarter"]))

    @classmethod
    def containing(cls, day: dt.date) -> Period:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @classmethod
    def current(cls) -> Period:
        return cls.containing(timezone.localdate())

    def __str__(self) -> str:
        return f"{self.year}Q{self.quarter}"

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, 3 * self.quarter - 2, 1)

    @property
    def end(self) -> dt.date:
        return self.next().start - dt.timedelta(days=1)

    def next(self) -> Period:
        return Period(self.year + self.quarter // 4, self.quarter % 4 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.quarter == 1), (self.quarter - 2) % 4 + 1)

    def deadline(self, due_days: int) -> Deadline:
        """``due_days`` after the quarter ends, moved forward to a working day."""
        nominal = self.end + dt.timedelta(days=due_days)
        moved = next_working_day(nominal)
        provisional = not all(calendar_known(nominal + dt.timedelta(days=n)) for n in range((moved - nominal).days + 1))
        return Deadline(moved, provisional)

    def overlaps(self, start: dt.date, end: dt.date) -> bool:
        return self.start <= end and start <= self.end


def periods_between(start: dt.date, end: dt.date) -> list[Period]:
    """Every period that overlaps [start, end], in order."""
    periods, period = [], Period.containing(start)
    while period.start <= end:
        periods.append(period)
        period = period.next()
    return periods
