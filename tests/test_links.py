"""Links work: every link the service hands out is on the server that serves it (``SITE_URL``, which
``make run`` sets from its port), and sends a person to a page, an integrator to the API separately."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.core import mail
from django.test import override_settings

from pilots.models import Milestone, Notification, Organisation, PlanItem, WebhookDelivery
from pilots.periods import Period
from pilots.services.reminders import reminder_rules_ensure, reminders_sweep
from pilots.services.reports import report_create
from pilots.services.webhooks import webhook_deliveries_record, webhook_subscription_create
from smartcity.audit import ChangeContext
from smartcity.models import AuditEntry
from smartcity.management.commands.runstack import child_environment
from tests.factories import OrganisationFactory, PilotFactory, PrefectureFactory, SubTaskFactory, TaskFactory, member
from tests.helpers import client_for

CST = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2021, 10, 9, 9, 30, tzinfo=CST)  # the adjusted working Saturday after 2021Q3's deadline
SITE = "http://127.0.0.1:8123"  # the service runs on a port other than 8000


def test_make_run_tells_its_children_the_port_it_serves_on():
    assert child_environment({}, "127.0.0.1", 8123)["SITE_URL"] == "http://127.0.0.1:8123"
    assert child_environment({}, "0.0.0.0", 8123)["SITE_URL"] == "http://127.0.0.1:8123"  # nosec B104
    assert child_environment({}, "::", 8123)["SITE_URL"] == "http://[::1]:8123"
    assert child_environment({"SITE_URL": ""}, "localhost", 9000)["SITE_URL"] == "http://localhost:9000"
    # A public address set by the operator is kept.
    assert child_environment({"SITE_URL": "https://zhcs.sc.gov.cn"}, "127.0.0.1", 8123)["SITE_URL"] == (
        "https://zhcs.sc.gov.cn")


@pytest.fixture
def world():
    task = TaskFactory(code="T4", programme__report_due_days=5)
    subtask = SubTaskFactory(task=task, code="T4.1")
    chengdu = PrefectureFactory(code="510100")
    pilot = PilotFactory(programme=task.programme, prefecture=chengdu, code="510108",
                         construction_start=dt.date(2021, 7, 1))
    office = OrganisationFactory(kind=Organisation.Kind.PREFECTURE, prefecture=chengdu)
    reporter = member("reporter", office, email="zh@chengdu.example")
    plan = PlanItem.objects.create(pilot=pilot, subtask=subtask, description="平台")
    milestone = Milestone.objects.create(plan_item=plan, title="一期", due_on=dt.date(2021, 9, 30), target_percent=50)
    reminder_rules_ensure()
    return {"pilot": pilot, "subtask": subtask, "reporter": reporter, "milestone": milestone,
            "reviewer": member("reviewer", OrganisationFactory(code="province"))}


@pytest.mark.django_db
@override_settings(SITE_URL=SITE)
def test_a_clerk_is_sent_to_the_pilots_page_and_an_integrator_gets_the_api_url(world):
    pilot, milestone = world["pilot"], world["milestone"]
    with time_machine.travel(NOW, tick=False):
        reminders_sweep(now=NOW)
        listed = client_for(world["reviewer"]).get("/api/v1/overdue/").json()["results"]
        sent = client_for(world["reviewer"]).get("/api/v1/reminders/?channel=in_app").json()["results"]
    links = {e["kind"]: (e["link"], e["api_url"]) for e in listed}
    assert links == {
        "milestone_behind": (f"{SITE}/dashboard/pilots/{pilot.pk}/#h-ms", f"{SITE}/api/v1/milestones/{milestone.pk}/"),
        "report_missing": (f"{SITE}/dashboard/pilots/{pilot.pk}/#h-rep",
                           f"{SITE}/api/v1/reports/?pilot={pilot.pk}&subtask=T4.1&period=2021Q3"),
    }
    assert {(r["kind"], r["link"], r["api_url"]) for r in sent} == {(kind, *pair) for kind, pair in links.items()}

    [email] = mail.outbox
    assert f"{SITE}/dashboard/pilots/{pilot.pk}/#h-ms" in email.body and "/api/v1/" not in email.body
    note = Notification.objects.get(user=world["reporter"])
    assert (note.link, note.api_url) == (f"{SITE}/dashboard/#h-overdue", f"{SITE}/api/v1/overdue/")
    assert f"{SITE}/dashboard/pilots/{pilot.pk}/#h-rep" in note.body
    mine = client_for(world["reporter"]).get("/api/v1/notifications/").json()["results"]
    assert [(n["link"], n["api_url"]) for n in mine] == [(note.link, note.api_url)]


@pytest.mark.django_db
@override_settings(SITE_URL=SITE, WEBHOOK_ALLOWED_NETWORKS=["127.0.0.0/8"])
def test_a_webhook_names_the_report_in_the_api_and_its_page(world):
    report = report_create(pilot=world["pilot"], subtask=world["subtask"], period=Period(2021, 3),
                           content={"percent_complete": "45.0", "status": "on_track"}, submit=True,
                           context=ChangeContext(user=world["reporter"], via=AuditEntry.Via.COMMAND))
    webhook_subscription_create(owner=member("integrator"), url="http://127.0.0.1:9/hook",
                                events=["report.submitted"], context=ChangeContext.command())
    [delivery_id] = webhook_deliveries_record(event="report.submitted", ref={"report": report.pk}, event_id="e1")
    data = json.loads(WebhookDelivery.objects.get(pk=delivery_id).body)["data"]
    assert (data["url"], data["link"]) == (f"{SITE}/api/v1/reports/{report.pk}/",
                                           f"{SITE}/dashboard/pilots/{world['pilot'].pk}/#h-rep")
