"""The sub-tasks behind schedule: one list, most urgent first, whose count is the total on every page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pilots.models import CompletionRollup
from pilots.services.completion import completion_recompute_all
from tests.completion_helpers import plan, report
from tests.factories import (
    OrganisationFactory,
    PilotFactory,
    PrefectureFactory,
    ProgrammeFactory,
    SubTaskFactory,
    TaskFactory,
    member,
)
from tests.helpers import client_for, error_fields

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2021, 10, 15)
PLAN_END = dt.date(2021, 6, 30)  # every sub-task was planned to reach 80% by then


@pytest.fixture
def world():
    """Two prefectures' pilots reported 2021Q2 against a plan of 80%: some on track, some behind, some critical."""
    programme = ProgrammeFactory(code="sc-2020-3", goal_pilot_count=30, goal_deadline=dt.date(2022, 12, 31))
    task = TaskFactory(programme=programme, code="T4")
    subtasks = [SubTaskFactory(task=task, code=f"T4.{n}", weight=Decimal(1)) for n in (1, 2, 3)]
    chengdu = PrefectureFactory(code="510100")
    luzhou = PrefectureFactory(code="510500")
    percents = {  # variance = percent − 80; below −10 behind, below −25 critical
        (chengdu, "510104"): ("75", "60", "40"),   # on track, behind (−20), critical (−40)
        (chengdu, "510108"): ("65", "50", "90"),   # behind (−15), critical (−30), ahead
        (luzhou, "510502"): ("20", "68", "80"),    # critical (−60), behind (−12), on track
    }
    for (prefecture, code), figures in percents.items():
        pilot = PilotFactory(programme=programme, prefecture=prefecture, code=code)
        for subtask, percent in zip(subtasks, figures, strict=True):
            plan(pilot, subtask, (dt.date(2021, 3, 31), 40), (PLAN_END, 80))
            report(pilot, subtask, "2021Q2", percent)
    completion_recompute_all(as_of=AS_OF)
    return {
        "viewer": client_for(member("viewer", OrganisationFactory(code="province"))),
        "chengdu_office": client_for(member("reporter", OrganisationFactory(kind="prefecture", prefecture=chengdu))),
    }


def _rows(body):
    return [(row["pilot"]["code"], row["subtask"]["code"], row["variance"], row["schedule_status"])
            for row in body["results"]]


def test_the_province_reads_every_subtask_behind_most_urgent_first(world):
    body = world["viewer"].get("/api/v1/completion/behind/").json()

    assert _rows(body) == [
        ("510502", "T4.1", "-60.00", "critical"), ("510104", "T4.3", "-40.00", "critical"),
        ("510108", "T4.2", "-30.00", "critical"), ("510104", "T4.2", "-20.00", "behind"),
        ("510108", "T4.1", "-15.00", "behind"), ("510502", "T4.2", "-12.00", "behind"),
    ]
    # The same count as the province's figures, which the overview's cards read.
    province = CompletionRollup.objects.get(scope="province", as_of=AS_OF, real_only=False)
    assert body["count"] == province.behind_count + province.critical_count == 6


def test_every_page_says_the_same_total(world):
    first = world["viewer"].get("/api/v1/completion/behind/?page_size=4").json()
    second = world["viewer"].get("/api/v1/completion/behind/?page_size=4&page=2").json()

    assert (first["count"], len(first["results"]), second["count"], len(second["results"])) == (6, 4, 6, 2)
    assert first["next"] and second["previous"] and not second["next"]
    assert _rows(second)[0] == ("510108", "T4.1", "-15.00", "behind")  # the order continues across pages


def test_a_prefecture_reads_its_own_and_the_filter_names_a_prefecture(world):
    own = world["chengdu_office"].get("/api/v1/completion/behind/").json()
    assert own["count"] == 4 and {row["pilot"]["prefecture"] for row in own["results"]} == {"510100"}

    luzhou = world["viewer"].get("/api/v1/completion/behind/?prefecture=510500").json()
    assert _rows(luzhou) == [("510502", "T4.1", "-60.00", "critical"), ("510502", "T4.2", "-12.00", "behind")]

    unknown = world["viewer"].get("/api/v1/completion/behind/?prefecture=999999")
    assert unknown.status_code == 400 and "prefecture" in error_fields(unknown)


def test_a_day_with_nothing_behind_lists_nothing(world):
    body = world["viewer"].get("/api/v1/completion/behind/?as_of=2021-03-31").json()
    assert body["count"] == 0  # nothing computed that day: no older day's rows in its place


def test_the_list_costs_the_same_queries_for_one_row_or_six(world, django_assert_max_num_queries):
    with django_assert_max_num_queries(8) as one:
        assert len(world["viewer"].get("/api/v1/completion/behind/?page_size=1").json()["results"]) == 1
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(world["viewer"].get("/api/v1/completion/behind/").json()["results"]) == 6
