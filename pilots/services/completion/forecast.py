"""The forecast: when a pilot's approved history, on a least-squares line, reaches 100 %."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from pilots.models import (
    ForecastStatus,
)

# The forecast gives no date further out than this: a flat trend is "no projection", not a date in 2090.
FORECAST_HORIZON_YEARS = 10


@dataclass(frozen=True)
class Forecast:
    """When a pilot is projected to reach 100, or why there is no such date (``ForecastStatus``)."""

    date: dt.date | None
    status: str


NO_DATA = Forecast(None, ForecastStatus.INSUFFICIENT_DATA.value)


def forecast_completion(points: list[tuple[dt.date, Decimal]], *, as_of: dt.date) -> Forecast:
    """Where a least-squares line through ``(period end, overall completion)`` reaches 100.

    Already at 100: complete, on the end of the first period that reached it. Otherwise a date only
    with two or more points and a rising trend, after ``as_of`` and within ``FORECAST_HORIZON_YEARS``:
    a line that reached 100 on or before ``as_of`` while the figure has not is *behind its own trend*
    (no date: "done today" would be false). The day is the first whole day on or after the crossing.
    """
    if not points:
        return NO_DATA
    if points[-1][1] >= 100:
        return Forecast(next(day for day, value in points if value >= 100), ForecastStatus.COMPLETE.value)
    if len(points) < 2:
        return NO_DATA
    # Exact, in integers: the recompute runs this for every pilot, and Fraction sums cost a second.
    # x = days after as_of; y = the percents over a common denominator; n²·var(x) and n²·cov(x, y).
    ys = [Fraction(value) for _day, value in points]
    scale = math.lcm(*(y.denominator for y in ys))
    ys = [y.numerator * (scale // y.denominator) for y in ys]
    xs = [(day - as_of).days for day, _value in points]
    n, sum_x, sum_y = len(xs), sum(xs), sum(ys)
    variance = n * sum(x * x for x in xs) - sum_x * sum_x
    if variance == 0:
        return NO_DATA  # every point on one day: no trend to draw
    covariance = n * sum(x * y for x, y in zip(xs, ys)) - sum_x * sum_y
    if covariance <= 0:  # a flat or falling trend never reaches 100
        return Forecast(None, ForecastStatus.NOT_RISING.value)
    # The crossing, mean(x) + (100 − mean(y)) / slope, as one fraction; -(-a // b) is its ceiling.
    crossing_numerator = sum_x * covariance + (100 * scale * n - sum_y) * variance
    days = -(-crossing_numerator // (n * covariance))
    if days <= 0:
        return Forecast(None, ForecastStatus.BEHIND_TREND.value)
    if days > FORECAST_HORIZON_YEARS * 366:
        return Forecast(None, ForecastStatus.BEYOND_HORIZON.value)
    return Forecast(as_of + dt.timedelta(days=days), ForecastStatus.PROJECTED.value)


def forecast_completion_date(points: list[tuple[dt.date, Decimal]], *, as_of: dt.date) -> dt.date | None:
    """The projected (or, when complete, the reached) date of ``forecast_completion``."""
    return forecast_completion(points, as_of=as_of).date
