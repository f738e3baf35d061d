"""An id in a URL is written in ASCII digits only: ``/api/v1/reports/１/`` is no second name for report 1."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.factories import PrefectureFactory, member
from tests.test_api_reports import file_report, world  # noqa: F401  (two prefectures, their offices)

FULL_WIDTH_ONE = "\uff11"  # "１", which Python's int() and \d read as 1


def _routes(resolver=None, prefix=""):
    """Every URL pattern of the service as (full regex, pattern), nested includes included."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        regex = prefix + entry.pattern.regex.pattern.lstrip("^")
        if isinstance(entry, URLResolver):
            yield from _routes(entry, regex.rstrip("$").removesuffix(r"\Z"))
        elif isinstance(entry, URLPattern):
            yield regex, entry


def _routes_with_ids():
    # The Django admin names objects by ``<path:object_id>`` for any kind of key, by Django's own design;
    # it is a staff tool behind its own sign-in, not a URL an outside user is given.
    return [(regex, entry) for regex, entry in _routes()
            if re.compile(regex).groupindex and not regex.startswith("admin/")]


def test_every_route_with_an_id_is_found_by_the_walk():
    names = {entry.name for _regex, entry in _routes_with_ids()}
    # Detail routes, nested actions and the dashboard's pages: the walk sees them all.
    assert {"report-detail", "report-correct", "pilot-completion", "token-detail", "webhook-detail",
            "prefecture", "pilot"} <= names


@pytest.mark.parametrize("regex,entry", _routes_with_ids(), ids=lambda value: getattr(value, "name", None) or "")
def test_no_route_takes_a_non_ascii_digit_for_an_id(regex, entry):
    """Each group of each route refuses a full-width digit where an ASCII one is expected."""
    compiled = re.compile(regex)
    for group in compiled.groupindex:
        if group == "format":
            continue
        # Build the path the route would answer with "1" in this group, then swap in "１".
        ascii_path = _example_path(regex, group, "1")
        wide_path = _example_path(regex, group, FULL_WIDTH_ONE)
        if ascii_path is None:  # a group that never takes "1" (a six-digit code): try a whole code
            ascii_path = _example_path(regex, group, "510100")
            wide_path = _example_path(regex, group, "５１０１００")
        assert ascii_path is not None and compiled.fullmatch(ascii_path), (entry.name, group)
        assert not compiled.fullmatch(wide_path), f"{entry.name}: {group} accepts {wide_path!r}"


def _example_path(regex: str, group: str, value: str) -> str | None:
    """The path matched by ``regex`` with ``value`` in ``group`` and "1" / "510100" in the others."""
    pattern = re.compile(regex)
    path = regex
    for name in pattern.groupindex:
        sample = value if name == group else None
        # Replace the named group's body with the sample (or with a fitting ASCII sample for the others).
        body = _group_body(path, name)
        if sample is None:
            sample = next((s for s in ("1", "510100", "json") if re.fullmatch(body, s)), None)
            if sample is None:
                return None
        elif not re.fullmatch(body, "1" if value == FULL_WIDTH_ONE else value) and value in ("1", FULL_WIDTH_ONE):
            return None
        path = path.replace(f"(?P<{name}>{body})", sample, 1)
    text = path.replace(r"\Z", "").replace("$", "").replace("\\.", ".").replace("\\", "")
    return None if "(" in text else text


def _group_body(regex: str, name: str) -> str:
    start = regex.index(f"(?P<{name}>") + len(f"(?P<{name}>")
    depth, index = 1, start
    while depth:
        depth += {"(": 1, ")": -1}.get(regex[index], 0)
        index += 1
    return regex[start:index - 1]


@pytest.mark.django_db
def test_a_full_width_report_id_is_not_found(world):  # noqa: F811
    """A clerk's report answers at its ASCII id, and a full-width spelling of it is no report."""
    report = file_report(world).json()["report"]
    wide = str(report["id"]).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    office = world["chengdu_office"]
    assert office.get(f"/api/v1/reports/{report['id']}/").status_code == 200
    for path in (f"/api/v1/reports/{wide}/", f"/api/v1/reports/{wide}/receipt/"):
        response = office.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_a_full_width_prefecture_code_is_no_dashboard_page(client):
    PrefectureFactory(code="510100")
    client.force_login(member("reviewer"))
    assert client.get("/dashboard/prefectures/510100/").status_code == 200
    assert client.get("/dashboard/prefectures/５１０１００/").status_code == 404
