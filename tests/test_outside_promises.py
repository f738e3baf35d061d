"""Promises an outside user relies on (issue 21): an approved revision keeps its URL after a correction, and
every time the service writes is in one zone (ISO 8601 with Asia/Shanghai's +08:00)."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from pilots.models import ProgressReport
from pilots.services.reports import receipt_content, receipt_of
from tests.test_api_reports import URL, act, file_report, mid_october_2021, world  # noqa: F401

pytestmark = pytest.mark.django_db


def _corrected(world):  # noqa: F811
    report = file_report(world, submit=True).json()["report"]
    act(world["reviewer"], report, "approve")
    office = world["chengdu_office"]
    correction = act(office, report, "correct", {"correction_reason": "统计口径调整", "percent_complete": "42.0",
                                                 "decrease_reason": "口径调整"})
    assert correction.status_code == 201
    return report, correction.json()


# --- An approved revision stays addressable ------------------------------------------------------------

def test_the_approved_revision_answers_at_its_own_url_after_a_correction(world):  # noqa: F811
    approved, correction = _corrected(world)
    office = world["chengdu_office"]

    old = office.get(f"{URL}{approved['id']}/")
    assert old.status_code == 200
    assert (old.json()["revision"], old.json()["state"], old.json()["is_current"]) == (1, "approved", False)
    assert office.get(f"{URL}{approved['id']}/?current=false").status_code == 200
    assert office.get(f"{URL}{correction['id']}/").json()["is_current"] is True
    assert office.get(f"{URL}{approved['id']}/revisions/").status_code == 200
    # Lists still show current revisions unless asked.
    assert [row["id"] for row in office.get(URL).json()["results"]] == [correction["id"]]
    assert [row["id"] for row in office.get(f"{URL}?current=false").json()["results"]] == [approved["id"]]


@pytest.mark.parametrize("verb, who, body", [
    ("submit", "chengdu_office", None),
    ("approve", "reviewer", None),
    ("return", "reviewer", {"comment": "请补充。"}),
    ("correct", "chengdu_office", {"correction_reason": "再次调整"}),
])
def test_workflow_actions_on_a_superseded_revision_are_refused_as_a_wrong_state(world, verb, who, body):  # noqa: F811
    approved, _correction = _corrected(world)
    before = ProgressReport.objects.order_by("pk").values_list("pk", "state", "version", "is_current")
    before = list(before)

    response = act(world[who], approved, verb, body)

    assert response.status_code == 409, response.json()
    assert response.json()["code"] in {"invalid_state", "invalid_transition", "not_current"}
    assert list(ProgressReport.objects.order_by("pk").values_list("pk", "state", "version", "is_current")) == before


def test_editing_a_superseded_revision_is_refused(world):  # noqa: F811
    approved, _correction = _corrected(world)
    office = world["chengdu_office"]
    response = office.patch(f"{URL}{approved['id']}/", {"percent_complete": "40.0"}, format="json",
                            HTTP_IF_MATCH=office.get(f"{URL}{approved['id']}/")["ETag"])
    assert response.status_code == 409


# --- Times in one zone ----------------------------------------------------------------------------------

UTC_WRITTEN = re.compile(r'\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|\+00:00)')
LOCAL_WRITTEN = re.compile(r'\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?\+08:00')


def test_every_time_a_clerk_reads_is_written_with_the_shanghai_offset(world):  # noqa: F811
    office, reviewer = world["chengdu_office"], world["reviewer"]
    filed = file_report(world, submit=True).json()
    report = filed["report"]
    act(reviewer, report, "return", {"comment": "请补充投资明细。"})

    bodies = {
        "submission": json.dumps(filed),
        "detail": office.get(f"{URL}{report['id']}/").content.decode(),
        "list": office.get(URL).content.decode(),
        "resubmission": act(office, report, "submit").content.decode(),
        "revisions": office.get(f"{URL}{report['id']}/revisions/").content.decode(),
        "audit": reviewer.get("/api/v1/audit/").content.decode(),
        "tokens": office.get("/api/v1/auth/tokens/").content.decode(),
    }
    for name, body in bodies.items():
        assert not UTC_WRITTEN.search(body), (name, UTC_WRITTEN.search(body).group())
    assert LOCAL_WRITTEN.search(bodies["resubmission"]) and LOCAL_WRITTEN.search(bodies["detail"])

    receipt = filed["receipt"]
    content = json.loads(receipt["content"])
    assert receipt["submitted_at"] == content["submitted_at"] == filed["report"]["submitted_at"]
    assert receipt["submitted_at"].endswith("+08:00")


def test_a_receipt_issued_in_utc_before_still_verifies(world):  # noqa: F811
    """Receipts issued before this change hashed their time as UTC (+00:00); the content the service gives
    for them is that text, so the stored hash still matches it."""
    report_id = file_report(world, submit=True).json()["report"]["id"]
    report = ProgressReport.objects.select_related("pilot", "subtask").get(pk=report_id)
    legacy = receipt_content(report, report.submitted_at, as_utc=True)
    assert '+00:00"' in legacy
    ProgressReport.objects.filter(pk=report_id).update(receipt_hash=hashlib.sha256(legacy.encode()).hexdigest())

    receipt = receipt_of(ProgressReport.objects.select_related("pilot", "subtask").get(pk=report_id))

    assert receipt.content == legacy
    assert hashlib.sha256(receipt.content.encode()).hexdigest() == receipt.sha256
    assert receipt.submitted_at.endswith("+08:00")  # the receipt's own field is written like every other time
