"""End to end: a report filed and approved through the API reaches the province figure via the outbox,
the real broker and a real Celery worker (no eager mode, no direct task call)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from pilots.periods import Period
from smartcity.models import OutboxMessage
from tests.factories import OrganisationFactory, PilotFactory, PrefectureFactory, SubTaskFactory, member
from tests.helpers import client_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

POLL_TIMEOUT = 60  # seconds


def test_an_approved_report_reaches_the_province_figure_through_the_worker(celery_worker_process):
    chengdu = PrefectureFactory(code="510100")
    online = SubTaskFactory(code="T4.1", weight=Decimal(1))
    livelihood = SubTaskFactory(task=online.task, code="T4.2", weight=Decimal(3))
    today = timezone.localdate()
    chenghua = PilotFactory(programme=online.task.programme, prefecture=chengdu, code="510108",
                            designated_on=today - dt.timedelta(days=400),
                            construction_start=today - dt.timedelta(days=400),
                            construction_end=today + dt.timedelta(days=400))
    office = client_for(member("reporter", OrganisationFactory(kind="prefecture", prefecture=chengdu)),
                        can_write=True)
    reviewer = client_for(member("reviewer", OrganisationFactory(code="province")), can_write=True)

    filed = office.post("/api/v1/reports/", {
        "pilot": chenghua.pk, "subtask": livelihood.pk, "period": str(Period.current()), "percent_complete": "60.0",
        "status": "on_track", "submit": True}, format="json")
    assert filed.status_code == 201, filed.json()
    report_url = f"/api/v1/reports/{filed.json()['report']['id']}/"
    etag = reviewer.get(report_url)["ETag"]
    approved = reviewer.post(f"{report_url}approve/", {}, format="json", HTTP_IF_MATCH=etag)
    assert approved.status_code == 200, approved.json()

    def province_shows_the_approval():
        response = reviewer.get("/api/v1/completion/province/")
        if response.status_code != 200:
            return None
        body = response.json()
        return body if body["completion"] == "45.00" else None  # (1 × 0 + 3 × 60) / 4

    body = celery_worker_process.wait_for(province_shows_the_approval, timeout=POLL_TIMEOUT,
                                          what="the province completion to include the approved report")

    assert body["pilot_count"] == 1 and body["as_of"] == str(dt.date.fromisoformat(body["as_of"]))
    assert body["no_report_count"] == 1  # T4.2 approved, T4.1 never reported
    assert not OutboxMessage.objects.filter(dispatched_at__isnull=True).exists()  # sent on commit
    pilot = office.get(f"/api/v1/pilots/{chenghua.pk}/completion/").json()
    assert pilot["tasks"][0]["subtasks"][1]["approved_percent"] == "60.00"
