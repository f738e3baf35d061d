"""Every session-authenticated page (the dashboard, its exports) × role, generated from the URL configuration.

The API's matrix (``test_authorization_matrix.py``) covers token clients; this one signs in with a
session, as a person does in the browser. ``PAGES`` declares, independently of the views, what each
page answers to each role; a dashboard page the table does not list fails the test. Objects belong to
成都市 (510100): the office of 泸州市 (510500) must find them absent (404).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from pilots.services.completion import completion_recompute_all
from tests.completion_helpers import report
from tests.factories import (
    OrganisationFactory,
    PilotFactory,
    PrefectureFactory,
    SubTaskDepartmentFactory,
    SubTaskFactory,
    UserFactory,
    member,
)

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "no_membership", "own_reporter", "other_reporter", "viewer", "department", "integrator",
         "reviewer", "admin"]
# What a signed-in member of the province or a department gets: the page itself.
SEES_ALL = {"viewer": 200, "department": 200, "reviewer": 200, "admin": 200}
# Sent to sign in; an account with no organisation; an integrator, whose account is for the API only.
ALWAYS = {"anonymous": 302, "no_membership": 403, "integrator": 403}

# page name → (URL kwargs or query, {role: status}). Chengdu's office lands on its own prefecture (302);
# Luzhou's office finds Chengdu's pages and exports absent.
PAGES: dict[str, dict[str, int]] = {
    "overview": {**ALWAYS, **SEES_ALL, "own_reporter": 302, "other_reporter": 302},
    "prefecture": {**ALWAYS, **SEES_ALL, "own_reporter": 200, "other_reporter": 404},
    "pilot": {**ALWAYS, **SEES_ALL, "own_reporter": 200, "other_reporter": 404},
    "export-xlsx": {**ALWAYS, **SEES_ALL, "own_reporter": 200, "other_reporter": 404},
    "export-csv": {**ALWAYS, **SEES_ALL, "own_reporter": 200, "other_reporter": 404},
}


def dashboard_pages() -> list[str]:
    """The names of every URL under /dashboard/, from the URL configuration itself."""
    names = []

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and prefix.startswith("dashboard/"):
                names.append(pattern.name)

    walk(get_resolver().url_patterns)
    return names


def test_the_table_lists_every_dashboard_page():
    assert sorted(dashboard_pages()) == sorted(PAGES), "a dashboard page needs its row in PAGES"


@pytest.fixture
def world():
    subtask = SubTaskFactory(code="T4.1")
    chengdu, luzhou = PrefectureFactory(code="510100"), PrefectureFactory(code="510500")
    pilot = PilotFactory(programme=subtask.task.programme, prefecture=chengdu, code="510108",
                         construction_start=dt.date(2021, 1, 1), construction_end=dt.date(2022, 12, 31))
    report(pilot, subtask, "2021Q3", "60")
    completion_recompute_all(as_of=dt.date(2021, 10, 15))
    department = OrganisationFactory(for_department=True)
    SubTaskDepartmentFactory(subtask=subtask, department=department.department)
    province = OrganisationFactory(code="province")
    users = {
        "no_membership": UserFactory(),
        "own_reporter": member("reporter", OrganisationFactory(kind="prefecture", prefecture=chengdu)),
        "other_reporter": member("reporter", OrganisationFactory(kind="prefecture", prefecture=luzhou)),
        "viewer": member("viewer", province),
        "department": member("viewer", department),
        "integrator": member("integrator"),
        "reviewer": member("reviewer", province),
        "admin": member("admin", province),
    }
    urls = {
        "overview": reverse("dashboard:overview"),
        "prefecture": reverse("dashboard:prefecture", kwargs={"code": chengdu.code}),
        "pilot": reverse("dashboard:pilot", kwargs={"pk": pilot.pk}),
        "export-xlsx": reverse("dashboard:export-xlsx") + f"?prefecture={chengdu.code}",
        "export-csv": reverse("dashboard:export-csv") + f"?prefecture={chengdu.code}",
    }
    return {"users": users, "urls": urls}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", sorted(PAGES))
def test_each_role_gets_what_the_table_says(world, page, role):
    client = Client()
    if role != "anonymous":
        client.force_login(world["users"][role])
    response = client.get(world["urls"][page])
    assert response.status_code == PAGES[page][role], (page, role, response.status_code)
    if role == "anonymous":
        assert response["Location"].startswith(reverse("login"))
    if response.status_code == 404:
        assert "510108" not in response.content.decode(errors="replace")  # nothing of Chengdu's leaks
