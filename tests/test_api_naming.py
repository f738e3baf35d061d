"""One way to name a thing: every list filter that names a catalog or registry object (programme, task,
sub-task, department, prefecture, pilot) takes its code and its id, and a name that names nothing is a 400
on that parameter, never an empty 200 that looks like an answer.

The test walks the URL configuration, so a new list with such a filter is checked without being listed here.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from pilots.models import Pilot, Prefecture
from smartcity.api.filters import NamedObjectFilter
from tasks_app.models import Department, Indicator, Programme, SubTask, Task
from tests.helpers import error_fields
from tests.test_api_completion import world  # noqa: F401  (a programme, T4 with two sub-tasks, two pilots)

pytestmark = pytest.mark.django_db

# Parameter names that name an object: each must be a NamedObjectFilter wherever a list has it.
NAMING_PARAMS = {"programme", "task", "subtask", "department", "lead_department", "prefecture", "pilot"}
# /api/v1/overdue/ is a plain list view whose query another change rewrites; it is not a filterset.
NOT_FILTERSETS = {"overdue"}


def _list_views():
    """(url path, view class) of every API list, from the URL configuration."""
    found = []

    def walk(patterns, prefix):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern) and prefix.startswith("api/v1/"):
                view = getattr(entry.callback, "cls", None)
                actions = getattr(entry.callback, "actions", {}) or {}
                if view is not None and actions.get("get") == "list":
                    found.append(("/" + prefix + str(entry.pattern).lstrip("^").rstrip("$"), view))
    walk(get_resolver().url_patterns, "")
    return found


def _naming_filters():
    cases = []
    for url, view in _list_views():
        filterset = getattr(view, "filterset_class", None)
        if filterset is None:
            continue
        for param, item in filterset.base_filters.items():
            if isinstance(item, NamedObjectFilter):
                cases.append((url, param, item))
            else:
                assert param not in NAMING_PARAMS, f"{url}?{param}= names an object: use NamedObjectFilter"
    return cases


CASES = _naming_filters()


def test_the_walk_finds_the_lists_and_their_naming_filters():
    found = {(url, param) for url, param, _item in CASES}
    assert {("/api/v1/reports/", "subtask"), ("/api/v1/reports/", "pilot"), ("/api/v1/completion/history/", "id"),
            ("/api/v1/completion/departments/", "department"), ("/api/v1/subtasks/", "lead_department"),
            ("/api/v1/reminders/", "pilot"), ("/api/v1/plans/", "prefecture"), ("/api/v1/pilots/", "programme"),
            ("/api/v1/completion/reporting-rates/", "prefecture")} <= found
    assert len(CASES) >= 25


def _named(world, model):
    if model is Indicator:  # the catalog's indicators are named the same way; the world has none of its own
        return Indicator.objects.get_or_create(
            programme=world["programme"], code="T4.2-ONLINE",
            defaults={"subtask": world["livelihood"], "name_zh": "网上可办率", "name_en": "Online share",
                      "kind": "rate", "unit_zh": "%", "unit_en": "%", "rollup": "mean"})[0]
    return {Programme: world["programme"], Task: world["task"], SubTask: world["livelihood"],
            Department: world["big_data"], Prefecture: world["chengdu"], Pilot: world["chenghua"]}[model]


@pytest.mark.parametrize("url, param, item", CASES, ids=[f"{url}?{param}" for url, param, _item in CASES])
def test_each_naming_filter_takes_the_code_and_the_id_and_refuses_an_unknown_name(world, url, param, item):
    client = world["viewer"]
    extra = {}
    if url == "/api/v1/completion/history/":
        extra = {"scope": "prefecture"} if param == "id" else {"scope": "province"}
    target = _named(world, Prefecture if param == "id" else item.named_model)

    by_code = client.get(url, {param: target.code, **extra})
    by_id = client.get(url, {param: str(target.pk), **extra})
    unknown = client.get(url, {param: "no-such-thing", **extra})

    assert by_code.status_code == 200, by_code.json()
    assert by_id.status_code == 200 and by_id.json() == by_code.json()
    assert unknown.status_code == 400 and error_fields(unknown) == {param}
    assert "no-such-thing" in unknown.json()["errors"][0]["message"]
    # A full-width id is no second name either.
    wide = str(target.pk).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert client.get(url, {param: wide, **extra}).status_code == 400


def test_the_reported_cases_now_answer(world):
    """``?subtask=1`` (the id the report body shows) and ``history?scope=prefecture&id=510100`` (the code)."""
    client = world["viewer"]
    by_id = client.get("/api/v1/reports/", {"subtask": world["livelihood"].pk}).json()
    assert by_id["count"] == 3 and {row["subtask"]["id"] for row in by_id["results"]} == {world["livelihood"].pk}
    history = client.get("/api/v1/completion/history/", {"scope": "prefecture", "id": "510100"}).json()
    assert history["count"] > 0


def test_a_county_code_is_a_code_even_when_an_id_has_those_digits(world):
    """A value that is some object's code names that object; it is read as an id only otherwise."""
    client = world["viewer"]
    rows = client.get("/api/v1/reports/", {"pilot": world["jiangyang"].code}).json()["results"]
    assert {row["pilot"]["code"] for row in rows} == {"510502"}


def test_an_object_outside_the_callers_scope_is_no_name(world):
    """Another prefecture's pilot is absent for an office (its page is a 404): naming it is a 400."""
    response = world["chengdu_office"].get("/api/v1/reports/", {"pilot": world["jiangyang"].code})
    assert response.status_code == 400 and error_fields(response) == {"pilot"}


def test_the_spec_says_what_each_naming_parameter_accepts(client):
    schema = client.get("/api/schema/?format=json").json()
    parameters = {(path, p["name"]): p.get("description", "") for path, item in schema["paths"].items()
                  for p in item.get("get", {}).get("parameters", [])}
    for url, param, _item in CASES:
        description = parameters[(url, param)]
        assert "code" in description and "id" in description and "400" in description, (url, param)


def test_the_province_figures_take_the_programme_by_code_or_id(world):
    client = world["viewer"]
    by_code = client.get("/api/v1/completion/province/", {"programme": "sc-2020-3"})
    by_id = client.get("/api/v1/completion/province/", {"programme": str(world["programme"].pk)})
    assert by_code.status_code == 200 and by_id.json() == by_code.json()
    unknown = client.get("/api/v1/completion/province/", {"programme": "no-such-thing"})
    assert unknown.status_code == 400 and error_fields(unknown) == {"programme"}
