"""Once the province accepts a pilot's plan, an office cannot rewrite it to look good: its changes are proposals.

成都市's office plans 成华区's T4.1 with three milestones (30% by mid-2021, 70% by mid-2022, 100% at the end)
and reports 25% for 2021Q3, which is behind plan. The province accepts the plan; lowering a milestone then
waits for the province's decision, and the accepted plan keeps counting until it is approved.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pilots.models import Membership, Milestone, PlanChangeProposal, PlanItem, ProgressReport, SubtaskCompletion
from pilots.services.completion import completion_recompute_pilot
from smartcity.models import AuditEntry
from tests.factories import OrganisationFactory
from tests.helpers import client_for, error_fields
from tests.test_api_plans import MILESTONES, PLANS, planned_with_milestones, world  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

PROPOSALS = "/api/v1/plan-proposals/"
AS_OF = dt.date(2021, 10, 15)


@pytest.fixture
def accepted(world):  # noqa: F811
    """成华区's accepted T4.1 plan, a 25% approved report for 2021Q3, and the figures computed."""
    item = planned_with_milestones(world)
    ProgressReport.objects.create(
        pilot=world["chenghua"], subtask=world["T4.1"], period="2021Q3", period_start=dt.date(2021, 7, 1),
        state=ProgressReport.State.APPROVED, percent_complete=Decimal("25"), status="on_track",
        submitted_at=dt.datetime(2021, 10, 8, 2, tzinfo=dt.timezone.utc),
        reviewed_at=dt.datetime(2021, 10, 9, 2, tzinfo=dt.timezone.utc),
    )
    reviewer = world["reviewer"]
    etag = reviewer.get(f"{PLANS}{item['id']}/")["ETag"]
    response = reviewer.post(f"{PLANS}{item['id']}/accept/", {}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200, response.json()
    world["item"] = response.json()
    return world


def figures(world):
    completion_recompute_pilot(pilot_id=world["chenghua"].pk, as_of=AS_OF)
    row = SubtaskCompletion.objects.get(pilot=world["chenghua"], subtask=world["T4.1"], as_of=AS_OF, real_only=False)
    return row.planned_percent, row.schedule_status


def mid_2022_milestone(world):
    return Milestone.objects.get(plan_item_id=world["item"]["id"], due_on=dt.date(2022, 6, 30))


def lower_mid_2022_milestone(world, target="30.0"):
    office = world["chengdu_office"]
    milestone = mid_2022_milestone(world)
    etag = office.get(f"{MILESTONES}{milestone.pk}/")["ETag"]
    return office.patch(f"{MILESTONES}{milestone.pk}/", {"target_percent": target, "reason": "征地延期"},
                        format="json", HTTP_IF_MATCH=etag)


def decide(world, client_key, proposal_id, verb, comment=""):
    client = world[client_key]
    etag = PlanChangeProposal.objects.get(pk=proposal_id).etag
    return client.post(f"{PROPOSALS}{proposal_id}/{verb}/", {"comment": comment}, format="json", HTTP_IF_MATCH=etag)


def test_the_province_accepts_a_plan_and_says_who_and_when(accepted):
    body = accepted["item"]
    assert body["accepted_at"] is not None
    assert body["accepted_by"] == PlanItem.objects.get(pk=body["id"]).accepted_by.username
    assert AuditEntry.objects.filter(action="accept", object_id=str(body["id"])).count() == 1
    again = accepted["reviewer"].post(f"{PLANS}{body['id']}/accept/", {}, format="json", HTTP_IF_MATCH=body["etag"])
    assert again.status_code == 409


def test_a_prefecture_cannot_accept_its_own_plan(world):  # noqa: F811
    item = planned_with_milestones(world)
    office = world["chengdu_office"]
    response = office.post(f"{PLANS}{item['id']}/accept/", {}, format="json",
                           HTTP_IF_MATCH=office.get(f"{PLANS}{item['id']}/")["ETag"])
    assert response.status_code == 403
    assert PlanItem.objects.get(pk=item["id"]).accepted_at is None


def test_lowering_an_accepted_milestone_is_a_proposal_and_the_accepted_plan_keeps_counting(accepted):
    before = figures(accepted)
    assert before[1] == "behind"

    response = lower_mid_2022_milestone(accepted)

    assert response.status_code == 202, response.json()
    proposal = response.json()
    assert response["Location"] == f"{PROPOSALS}{proposal['id']}/"
    assert (proposal["kind"], proposal["state"], proposal["changes"], proposal["reason"]) == (
        "milestone_update", "proposed", {"target_percent": "30.0"}, "征地延期")
    assert mid_2022_milestone(accepted).target_percent == Decimal("70.0")
    assert figures(accepted) == before


def test_the_province_approves_and_the_lower_milestone_counts(accepted):
    before = figures(accepted)
    proposal = lower_mid_2022_milestone(accepted).json()

    response = decide(accepted, "reviewer", proposal["id"], "approve", "同意调整")

    assert response.status_code == 200, response.json()
    assert (response.json()["state"], response.json()["decision_comment"]) == ("approved", "同意调整")
    assert response.json()["decided_by"] is not None
    assert mid_2022_milestone(accepted).target_percent == Decimal("30.0")
    planned, status = figures(accepted)
    assert planned == Decimal("30.0") < before[0]
    assert status != "behind"


def test_a_rejected_proposal_changes_nothing(accepted):
    before = figures(accepted)
    proposal = lower_mid_2022_milestone(accepted).json()

    without_comment = decide(accepted, "reviewer", proposal["id"], "reject")
    assert without_comment.status_code == 400 and error_fields(without_comment) == {"comment"}
    response = decide(accepted, "reviewer", proposal["id"], "reject", "节点调整理由不充分")

    assert response.status_code == 200
    assert response.json()["state"] == "rejected"
    assert mid_2022_milestone(accepted).target_percent == Decimal("70.0")
    assert figures(accepted) == before
    assert decide(accepted, "reviewer", proposal["id"], "approve").status_code == 409  # decided once


def test_a_prefecture_cannot_approve_its_own_proposal(accepted):
    proposal = lower_mid_2022_milestone(accepted).json()

    assert decide(accepted, "chengdu_office", proposal["id"], "approve").status_code == 403
    assert decide(accepted, "luzhou_office", proposal["id"], "approve").status_code == 403
    assert PlanChangeProposal.objects.get(pk=proposal["id"]).state == "proposed"
    assert mid_2022_milestone(accepted).target_percent == Decimal("70.0")


def test_no_one_decides_their_own_proposal(accepted):
    """Should the proposer later become a provincial reviewer, they still do not decide their own proposal."""
    proposal = lower_mid_2022_milestone(accepted).json()
    proposer = PlanChangeProposal.objects.get(pk=proposal["id"]).proposed_by
    Membership.objects.filter(user=proposer).update(role="reviewer", organisation=OrganisationFactory(code="p-3"))
    same_person = client_for(proposer, can_write=True)
    etag = same_person.get(f"{PROPOSALS}{proposal['id']}/")["ETag"]
    response = same_person.post(f"{PROPOSALS}{proposal['id']}/approve/", {}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 409


def test_adding_and_deleting_milestones_and_changing_the_plan_item_are_proposals(accepted):
    office = accepted["chengdu_office"]
    item_id = accepted["item"]["id"]
    added = office.post(MILESTONES, {"plan_item": item_id, "title": "上线试运行", "due_on": "2022-09-30",
                                     "target_percent": "85.0"}, format="json")
    first = Milestone.objects.get(plan_item_id=item_id, due_on=dt.date(2021, 6, 30))
    deleted = office.delete(f"{MILESTONES}{first.pk}/", HTTP_IF_MATCH=first.etag)
    changed = office.patch(f"{PLANS}{item_id}/", {"planned_investment": "900.00"}, format="json",
                           HTTP_IF_MATCH=office.get(f"{PLANS}{item_id}/")["ETag"])
    removed = office.delete(f"{PLANS}{item_id}/", HTTP_IF_MATCH=office.get(f"{PLANS}{item_id}/")["ETag"])

    assert [r.status_code for r in (added, deleted, changed, removed)] == [202, 202, 202, 409]
    assert Milestone.objects.filter(plan_item_id=item_id).count() == 3
    assert PlanItem.objects.get(pk=item_id).planned_investment == Decimal("1800.00")
    listed = accepted["viewer"].get(PROPOSALS, {"state": "proposed", "pilot": "510108"}).json()
    assert sorted(p["kind"] for p in listed["results"]) == ["milestone_create", "milestone_delete",
                                                            "plan_item_update"]

    for response in (added, deleted, changed):
        assert decide(accepted, "admin", response.json()["id"], "approve").status_code == 200
    assert sorted(Milestone.objects.filter(plan_item_id=item_id).values_list("target_percent", flat=True)) == [
        Decimal("70.0"), Decimal("85.0"), Decimal("100.0")]
    assert PlanItem.objects.get(pk=item_id).planned_investment == Decimal("900.00")
    assert PlanChangeProposal.objects.get(pk=added.json()["id"]).milestone.due_on == dt.date(2022, 9, 30)


def test_a_rule_breaking_proposal_is_refused_naming_the_field(accepted):
    response = lower_mid_2022_milestone(accepted, target="20.0")  # below the 30% due earlier

    assert response.status_code == 400 and error_fields(response) == {"target_percent"}
    assert not PlanChangeProposal.objects.exists()


def test_a_proposal_that_changes_nothing_is_refused(accepted):
    office = accepted["chengdu_office"]
    item_id = accepted["item"]["id"]
    response = office.patch(f"{PLANS}{item_id}/", {"reason": "只写理由"}, format="json",
                            HTTP_IF_MATCH=office.get(f"{PLANS}{item_id}/")["ETag"])

    assert response.status_code == 400
    assert not PlanChangeProposal.objects.exists()


def test_a_proposal_that_no_longer_fits_is_refused_on_approval_and_changes_nothing(accepted):
    proposal = lower_mid_2022_milestone(accepted, target="40.0").json()
    first = Milestone.objects.get(plan_item_id=accepted["item"]["id"], due_on=dt.date(2021, 6, 30))
    reviewer = accepted["reviewer"]  # the province edits directly: the earlier milestone now targets 50%
    assert reviewer.patch(f"{MILESTONES}{first.pk}/", {"target_percent": "50.0"}, format="json",
                          HTTP_IF_MATCH=first.etag).status_code == 200

    response = decide(accepted, "reviewer", proposal["id"], "approve")

    assert response.status_code == 400 and error_fields(response) == {"target_percent"}
    assert PlanChangeProposal.objects.get(pk=proposal["id"]).state == "proposed"
    assert mid_2022_milestone(accepted).target_percent == Decimal("70.0")


def test_before_acceptance_the_office_edits_directly(world):  # noqa: F811
    item = planned_with_milestones(world)
    office = world["chengdu_office"]
    milestone = Milestone.objects.get(plan_item_id=item["id"], due_on=dt.date(2022, 6, 30))
    response = office.patch(f"{MILESTONES}{milestone.pk}/", {"target_percent": "30.0"}, format="json",
                            HTTP_IF_MATCH=milestone.etag)
    assert response.status_code == 200
    assert not PlanChangeProposal.objects.exists()


def test_another_prefecture_does_not_see_the_proposals(accepted):
    lower_mid_2022_milestone(accepted)
    assert accepted["luzhou_office"].get(PROPOSALS).json()["count"] == 0
    assert accepted["chengdu_office"].get(PROPOSALS).json()["count"] == 1


def test_listing_proposals_costs_the_same_queries_for_one_or_many(accepted):
    viewer = accepted["viewer"]
    lower_mid_2022_milestone(accepted)
    with CaptureQueriesContext(connection) as one:
        assert viewer.get(PROPOSALS).json()["count"] == 1
    office = accepted["chengdu_office"]
    item_id = accepted["item"]["id"]
    for title, due_on in (("上线试运行", "2022-09-30"), ("联调测试", "2022-10-31")):
        assert office.post(MILESTONES, {"plan_item": item_id, "title": title, "due_on": due_on,
                                        "target_percent": "85.0"}, format="json").status_code == 202
    with CaptureQueriesContext(connection) as three:
        assert viewer.get(PROPOSALS).json()["count"] == 3
    assert len(three) == len(one)
