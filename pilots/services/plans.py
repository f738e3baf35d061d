"""Writes on pilot plans: plan items (one per pilot and sub-task) and their dated milestones.

Every rule a plan must satisfy is checked here, for every write path: ``plan_item_rules_check`` and
``milestone_rules_check`` raise a ``ValidationError`` naming each offending field. Each write runs in
one transaction, validates the row, records an audit entry with the object before and after, and has
the pilot's completion recomputed once it commits (milestones drive the schedule variance).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pilots import task_names
from pilots.models import Membership, Milestone, Pilot, PlanChangeProposal, PlanItem
from pilots.services.overdue import overdue_changed
from smartcity.audit import ChangeContext, audit_record, snapshot
from smartcity.concurrency import bump_version, lock_version
from smartcity.exceptions import InvalidTransition
from smartcity.outbox import outbox_enqueue
from tasks_app.models import SubTask

# The fields an office fills in on a plan item; pilot and sub-task are fixed once it exists.
PLAN_ITEM_FIELDS = ("description", "kpi_name", "kpi_unit", "kpi_target", "planned_investment", "responsible_unit")
MILESTONE_FIELDS = ("title", "due_on", "target_percent")


# --- Rules --------------------------------------------------------------------------------------

def plan_item_rules_check(*, pilot: Pilot, subtask: SubTask, exclude_plan_item_id: int | None = None) -> None:
    """Raise a ValidationError naming every field that breaks a rule of a plan item's identity."""
    errors: dict[str, str] = {}
    if pilot.state == Pilot.State.REVOKED:
        errors["pilot"] = _revoked_message()
    if subtask.task.programme_id != pilot.programme_id:
        errors["subtask"] = _("This sub-task belongs to another programme than the pilot.")
    else:
        existing = PlanItem.objects.filter(pilot=pilot, subtask=subtask)
        if exclude_plan_item_id is not None:
            existing = existing.exclude(pk=exclude_plan_item_id)
        existing_id = existing.values_list("pk", flat=True).first()
        if existing_id is not None:
            errors["subtask"] = _(
                "This pilot already has a plan item for sub-task %(code)s (id %(id)s); edit that one."
            ) % {"code": subtask.code, "id": existing_id}
    if errors:
        raise ValidationError(errors)


def milestone_rules_check(
    *, plan_item: PlanItem, due_on: dt.date, target_percent: Decimal, exclude_milestone_id: int | None = None
) -> None:
    """Raise a ValidationError naming every field that breaks a milestone rule.

    A milestone lies within the pilot's construction window, is the plan item's only one on its date,
    and its target is no lower than any earlier milestone's and no higher than any later one's.
    """
    pilot = plan_item.pilot
    errors: dict[str, str] = {}
    if pilot.state == Pilot.State.REVOKED:
        errors["plan_item"] = _revoked_message()
    if not pilot.construction_start <= due_on <= pilot.construction_end:
        errors["due_on"] = _(
            "%(due_on)s lies outside the pilot's construction window (%(start)s to %(end)s)."
        ) % {"due_on": due_on, "start": pilot.construction_start, "end": pilot.construction_end}
    others = plan_item.milestones.all()
    if exclude_milestone_id is not None:
        others = others.exclude(pk=exclude_milestone_id)
    same_day = others.filter(due_on=due_on).first()
    if same_day is not None:
        errors.setdefault("due_on", _(
            "This plan item already has a milestone on %(due_on)s (“%(title)s”, id %(id)s); one per day."
        ) % {"due_on": due_on, "title": same_day.title, "id": same_day.pk})
    else:
        earlier = others.filter(due_on__lt=due_on, target_percent__gt=target_percent).order_by("-due_on").first()
        later = others.filter(due_on__gt=due_on, target_percent__lt=target_percent).order_by("due_on").first()
        if earlier is not None:
            errors["target_percent"] = _(
                "Targets must not decrease over time: the earlier milestone “%(title)s” (%(due_on)s) already "
                "targets %(percent)s%%."
            ) % {"title": earlier.title, "due_on": earlier.due_on, "percent": earlier.target_percent}
        elif later is not None:
            errors["target_percent"] = _(
                "Targets must not decrease over time: the later milestone “%(title)s” (%(due_on)s) targets only "
                "%(percent)s%%."
            ) % {"title": later.title, "due_on": later.due_on, "percent": later.target_percent}
    if errors:
        raise ValidationError(errors)


# --- Plan items ---------------------------------------------------------------------------------

def plan_item_create(
    *, pilot: Pilot, subtask: SubTask, content: dict[str, Any], context: ChangeContext
) -> PlanItem:
    """Record what a pilot commits to for one sub-task."""
    content = _plan_content(content)
    with transaction.atomic():
        plan_item_rules_check(pilot=pilot, subtask=subtask)
        item = PlanItem(pilot=pilot, subtask=subtask, is_demo=pilot.is_demo, **content)
        item.full_clean(validate_unique=False, validate_constraints=False)  # checked above, with field names
        try:
            with transaction.atomic():
                item.save(force_insert=True)
        except IntegrityError:  # a concurrent request planned the same sub-task a moment ago
            raise ValidationError({"subtask": _("This pilot already has a plan item for this sub-task.")}) from None
        audit_record(context=context, action="create", instance=item, before=None, after=snapshot(item))
        _schedule_changed(item.pilot_id)
    return item


def plan_item_update(
    *, plan_item_id: int, expected_version: int | None, changes: dict[str, Any], context: ChangeContext
) -> PlanItem:
    """Change what a plan item commits to (its pilot and sub-task stay)."""
    changes = {field: _blank_if_none(field, value) for field, value in changes.items() if field in PLAN_ITEM_FIELDS}
    with transaction.atomic():
        item = _locked_plan_item(plan_item_id, expected_version)
        _refuse_if_revoked(item.pilot)
        before = snapshot(item)
        for field, value in changes.items():
            setattr(item, field, value)
        item.full_clean(validate_unique=False, validate_constraints=False)
        bump_version(item, **changes, updated_at=timezone.now())
        audit_record(context=context, action="update", instance=item, before=before, after=snapshot(item))
        _schedule_changed(item.pilot_id)
    return item


def plan_item_delete(*, plan_item_id: int, expected_version: int | None, context: ChangeContext) -> None:
    """Remove a plan item and its milestones; each removed row is audited."""
    with transaction.atomic():
        item = _locked_plan_item(plan_item_id, expected_version)
        _refuse_if_revoked(item.pilot)
        milestones = list(Milestone.objects.select_for_update().filter(plan_item=item).order_by("due_on"))
        for milestone in milestones:
            audit_record(context=context, action="delete", instance=milestone, before=snapshot(milestone), after=None)
        audit_record(context=context, action="delete", instance=item, before=snapshot(item), after=None)
        item.delete()
        _schedule_changed(item.pilot_id)


# --- Milestones ---------------------------------------------------------------------------------

def milestone_create(
    *, plan_item: PlanItem, title: str, due_on: dt.date, target_percent: Decimal, context: ChangeContext
) -> Milestone:
    """Add a dated target to a plan item."""
    with transaction.atomic():
        item = _locked_plan_item(plan_item.pk, None)  # serialises writers of one plan's milestones
        milestone_rules_check(plan_item=item, due_on=due_on, target_percent=target_percent)
        milestone = Milestone(plan_item=item, title=title, due_on=due_on, target_percent=target_percent)
        milestone.full_clean(validate_unique=False, validate_constraints=False)
        try:
            with transaction.atomic():
                milestone.save(force_insert=True)
        except IntegrityError:
            raise ValidationError({"due_on": _("This plan item already has a milestone on this date.")}) from None
        audit_record(context=context, action="create", instance=milestone, before=None, after=snapshot(milestone))
        _schedule_changed(item.pilot_id)
    return milestone


def milestone_update(
    *, milestone_id: int, expected_version: int | None, changes: dict[str, Any], context: ChangeContext
) -> Milestone:
    """Change a milestone's title, date or target."""
    changes = {field: value for field, value in changes.items() if field in MILESTONE_FIELDS}
    with transaction.atomic():
        plan_item_id = Milestone.objects.values_list("plan_item_id", flat=True).get(pk=milestone_id)
        item = _locked_plan_item(plan_item_id, None)  # plan item first, then milestone: one lock order
        milestone = lock_version(Milestone, milestone_id, expected_version)
        _refuse_if_revoked(item.pilot)
        before = snapshot(milestone)
        for field, value in changes.items():
            setattr(milestone, field, value)
        if "due_on" in changes or "target_percent" in changes:
            milestone_rules_check(plan_item=item, due_on=milestone.due_on, target_percent=milestone.target_percent,
                                  exclude_milestone_id=milestone.pk)
        milestone.full_clean(validate_unique=False, validate_constraints=False)
        try:
            with transaction.atomic():
                bump_version(milestone, **changes, updated_at=timezone.now())
        except IntegrityError:
            raise ValidationError({"due_on": _("This plan item already has a milestone on this date.")}) from None
        audit_record(context=context, action="update", instance=milestone, before=before, after=snapshot(milestone))
        _schedule_changed(item.pilot_id)
    return milestone


def milestone_delete(*, milestone_id: int, expected_version: int | None, context: ChangeContext) -> None:
    with transaction.atomic():
        plan_item_id = Milestone.objects.values_list("plan_item_id", flat=True).get(pk=milestone_id)
        item = _locked_plan_item(plan_item_id, None)
        milestone = lock_version(Milestone, milestone_id, expected_version)
        _refuse_if_revoked(item.pilot)
        audit_record(context=context, action="delete", instance=milestone, before=snapshot(milestone), after=None)
        milestone.delete()
        _schedule_changed(item.pilot_id)


# --- Acceptance and change proposals -------------------------------------------------------------
#
# Once the province accepts a plan item, a prefecture office no longer edits it or its milestones: each
# change becomes a proposal, and the accepted values (the rows themselves) keep counting in completion
# until a provincial reviewer approves it. Approving replays the change through the direct write above,
# so the same rules, audit and recompute apply; rejecting changes nothing.

Proposal = PlanChangeProposal


def plan_item_accept(*, plan_item_id: int, expected_version: int | None, context: ChangeContext) -> PlanItem:
    """The province accepts a pilot's plan item: from now on an office's changes need its approval."""
    with transaction.atomic():
        item = _locked_plan_item(plan_item_id, expected_version)
        _refuse_if_revoked(item.pilot)
        if item.accepted_at is not None:
            raise InvalidTransition(_("This plan item has already been accepted."))
        before = snapshot(item)
        bump_version(item, accepted_at=timezone.now(), accepted_by=context.acting_user, updated_at=timezone.now())
        audit_record(context=context, action="accept", instance=item, before=before, after=snapshot(item))
    return item


def plan_change_needs_review(*, plan_item: PlanItem, actor) -> bool:
    """An office's change to an accepted plan item is a proposal; the province still edits directly."""
    return plan_item.accepted_at is not None and actor.role == Membership.Role.REPORTER


def plan_change_propose(
    *, plan_item_id: int, kind: str, changes: dict[str, Any], context: ChangeContext,
    milestone_id: int | None = None, expected_version: int | None = None, reason: str = "",
) -> PlanChangeProposal:
    """Record an office's change to an accepted plan as a proposal, checked now by the rules it must meet.

    ``expected_version`` is the version of the object changed (the plan item, or the milestone).
    """
    fields = PLAN_ITEM_FIELDS if kind == Proposal.Kind.PLAN_ITEM_UPDATE else MILESTONE_FIELDS
    changes = {field: value for field, value in changes.items() if field in fields}
    if not changes and kind != Proposal.Kind.MILESTONE_DELETE:
        raise ValidationError(_("A proposal changes at least one field."))
    with transaction.atomic():
        item = _locked_plan_item(plan_item_id, expected_version if milestone_id is None else None)
        _refuse_if_revoked(item.pilot)
        if kind == Proposal.Kind.PLAN_ITEM_UPDATE:
            for field, value in changes.items():
                setattr(item, field, _blank_if_none(field, value))
            item.full_clean(validate_unique=False, validate_constraints=False)
        elif kind == Proposal.Kind.MILESTONE_CREATE:
            milestone_rules_check(plan_item=item, due_on=changes["due_on"], target_percent=changes["target_percent"])
            Milestone(plan_item=item, **changes).full_clean(validate_unique=False, validate_constraints=False)
        else:
            milestone = lock_version(Milestone, milestone_id, expected_version)
            if kind == Proposal.Kind.MILESTONE_UPDATE:
                for field, value in changes.items():
                    setattr(milestone, field, value)
                milestone_rules_check(plan_item=item, due_on=milestone.due_on,
                                      target_percent=milestone.target_percent, exclude_milestone_id=milestone.pk)
                milestone.full_clean(validate_unique=False, validate_constraints=False)
        proposal = Proposal(plan_item=item, milestone_id=milestone_id, kind=kind, changes=_to_json(changes),
                            reason=reason or "", proposed_by=context.acting_user)
        proposal.save(force_insert=True)
        audit_record(context=context, action="propose", instance=proposal, before=None, after=snapshot(proposal))
    return proposal


def plan_change_approve(
    *, proposal_id: int, expected_version: int | None, context: ChangeContext, comment: str = ""
) -> PlanChangeProposal:
    """Apply a proposed change through the direct write, under its rules; the proposal is then approved."""
    with transaction.atomic():
        proposal = _locked_proposal(proposal_id, expected_version, context)
        changes = _from_json(proposal.changes)
        kind = proposal.kind
        if kind != Proposal.Kind.MILESTONE_CREATE and kind != Proposal.Kind.PLAN_ITEM_UPDATE \
                and proposal.milestone_id is None:
            raise InvalidTransition(_("The milestone this proposal changes no longer exists."))
        if kind == Proposal.Kind.PLAN_ITEM_UPDATE:
            plan_item_update(plan_item_id=proposal.plan_item_id, expected_version=None, changes=changes,
                             context=context)
        elif kind == Proposal.Kind.MILESTONE_CREATE:
            proposal.milestone_id = milestone_create(plan_item=proposal.plan_item, context=context, **changes).pk
        elif kind == Proposal.Kind.MILESTONE_UPDATE:
            milestone_update(milestone_id=proposal.milestone_id, expected_version=None, changes=changes,
                             context=context)
        else:
            milestone_delete(milestone_id=proposal.milestone_id, expected_version=None, context=context)
            proposal.milestone_id = None  # the row is gone; the audit trail keeps what it was
        return _decide(proposal, Proposal.State.APPROVED, comment, context)


def plan_change_reject(
    *, proposal_id: int, expected_version: int | None, context: ChangeContext, comment: str
) -> PlanChangeProposal:
    """Turn a proposal down with a comment saying why; the accepted plan stays as it is."""
    if not (comment or "").strip():
        raise ValidationError({"comment": _("Say why the change is not accepted.")})
    with transaction.atomic():
        proposal = _locked_proposal(proposal_id, expected_version, context)
        return _decide(proposal, Proposal.State.REJECTED, comment, context)


def _locked_proposal(proposal_id: int, expected_version: int | None, context: ChangeContext) -> PlanChangeProposal:
    proposal = lock_version(Proposal, proposal_id, expected_version)
    if proposal.state != Proposal.State.PROPOSED:
        raise InvalidTransition(_("This proposal has already been decided."))
    user = context.acting_user
    if user is not None and proposal.proposed_by_id == user.pk:
        raise InvalidTransition(_("A proposal is decided by someone other than the person who made it."))
    _refuse_if_revoked(proposal.plan_item.pilot)
    return proposal


def _decide(proposal: PlanChangeProposal, state: str, comment: str, context: ChangeContext) -> PlanChangeProposal:
    before = snapshot(proposal)
    bump_version(proposal, state=state, decided_by=context.acting_user, decided_at=timezone.now(),
                 decision_comment=comment or "", milestone_id=proposal.milestone_id)
    audit_record(context=context, action=state, instance=proposal, before=before, after=snapshot(proposal))
    return proposal


def _to_json(changes: dict[str, Any]) -> dict[str, Any]:
    def plain(value):
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, dt.date):
            return value.isoformat()
        return value
    return {field: plain(value) for field, value in changes.items()}


def _from_json(changes: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = {}
    for field, value in changes.items():
        if value is not None and field in ("kpi_target", "planned_investment", "target_percent"):
            value = Decimal(value)
        elif value is not None and field == "due_on":
            value = dt.date.fromisoformat(value)
        decoded[field] = value
    return decoded


# --- internals ----------------------------------------------------------------------------------

def _plan_content(content: dict[str, Any]) -> dict[str, Any]:
    return {field: _blank_if_none(field, content.get(field)) for field in PLAN_ITEM_FIELDS}


def _blank_if_none(field: str, value):
    """Text fields store "" for "not given"; numbers store NULL."""
    if value is None and field in ("description", "kpi_name", "kpi_unit", "responsible_unit"):
        return ""
    return value


def _revoked_message() -> str:
    return _("This pilot has been revoked; its plan can no longer change.")


def _refuse_if_revoked(pilot: Pilot) -> None:
    if pilot.state == Pilot.State.REVOKED:
        raise InvalidTransition(_revoked_message())


def _locked_plan_item(plan_item_id: int, expected_version: int | None) -> PlanItem:
    # No select_related here: FOR UPDATE would then lock the joined pilot and catalog rows as well.
    return lock_version(PlanItem, plan_item_id, expected_version)


def _schedule_changed(pilot_id: int) -> None:
    """Milestones and plans feed the schedule variance: recompute the pilot's completion after commit."""
    outbox_enqueue(task=task_names.RECOMPUTE_PILOT_COMPLETION, kwargs={"pilot_id": pilot_id})
    overdue_changed(pilot_id=pilot_id)  # a milestone moved or met: what is overdue changes too
