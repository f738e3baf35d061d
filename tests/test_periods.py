"""Quarters and their deadlines, with China's holidays and adjusted working days."""

import datetime as dt

import pytest

from pilots.periods import InvalidPeriod, Period, periods_between
from smartcity.workdays import add_working_days, is_working_day, working_days_between

# The working-day calendar is data (seeded from chinesecalendar by the migrations): these tests read it.
pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("text", ["2021Q5", "2021-Q3", "21Q3", "2021Q0", "Q3 2021", "", "1999Q1"])
def test_a_malformed_period_is_refused(text):
    with pytest.raises(InvalidPeriod):
        Period.parse(text)


def test_a_period_knows_its_dates_and_neighbours():
    q4 = Period.parse("2021q4")

    assert str(q4) == "2021Q4"
    assert (q4.start, q4.end) == (dt.date(2021, 10, 1), dt.date(2021, 12, 31))
    assert str(q4.next()) == "2022Q1" and str(q4.previous()) == "2021Q3"
    assert str(Period.parse("2022Q1").previous()) == "2021Q4"
    assert [str(p) for p in periods_between(dt.date(2021, 1, 22), dt.date(2021, 9, 1))] == ["2021Q1", "2021Q2", "2021Q3"]


def test_a_deadline_on_a_working_day_stays():
    # 2021Q1 ends 2021-03-31; ten days later is Saturday 2021-04-10 → Monday 2021-04-12.
    assert Period.parse("2021Q1").deadline(10).date == dt.date(2021, 4, 12)
    # 2022Q1 + 10 days = Sunday 2022-04-10 → Monday 2022-04-11.
    assert Period.parse("2022Q1").deadline(10).date == dt.date(2022, 4, 11)


def test_a_deadline_in_the_national_day_holiday_moves_past_it():
    # 2021Q3 ends 2021-09-30; ten days later is Sunday 2021-10-10 → Monday 2021-10-11.
    assert Period.parse("2021Q3").deadline(10).date == dt.date(2021, 10, 11)
    # Five days later is 2021-10-05, inside the 1–7 October holiday → Friday 2021-10-08.
    assert Period.parse("2021Q3").deadline(5).date == dt.date(2021, 10, 8)


def test_a_deadline_on_an_adjusted_working_day_stays_although_it_is_a_saturday():
    # Saturday 2021-10-09 was worked in exchange for the National Day holiday (调休).
    assert Period.parse("2021Q3").deadline(9).date == dt.date(2021, 10, 9)
    assert not is_working_day(dt.date(2021, 10, 4))
    assert add_working_days(dt.date(2021, 9, 30), 1) == dt.date(2021, 10, 8)
    assert working_days_between(dt.date(2021, 9, 30), dt.date(2021, 10, 11)) == 3  # 8, 9 and 11 October


def test_beyond_the_known_calendar_deadlines_are_provisional():
    known = Period.parse("2025Q4").deadline(10)
    unknown = Period.parse("2099Q4").deadline(10)

    assert not known.provisional
    assert unknown.provisional and unknown.date.weekday() < 5
