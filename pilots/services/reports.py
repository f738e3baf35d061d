"""Writes on progress reports: filing, editing, the review workflow and corrections.

Every rule a report must satisfy is checked in ``report_rules_check``, which all write paths call
(the API, bulk submission, spreadsheet import, demo data). Each write runs in one transaction and
records its transition and audit entry, so nothing is ever half-written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pilots import task_names
from pilots.models import Pilot, ProgressReport, ReportTransition
from pilots.periods import Period
from pilots.services.overdue import overdue_changed
from pilots.services.webhooks import webhook_report_transition
from smartcity.audit import ChangeContext, audit_record, snapshot
from smartcity.concurrency import bump_version, lock_version
from smartcity.exceptions import InvalidTransition
from smartcity.outbox import outbox_enqueue
from smartcity.timefmt import local_iso
from tasks_app.models import SubTask

State = ProgressReport.State
Status = ProgressReport.Status
Action = ReportTransition.Action

# The fields an office fills in; everything else on a report is set by the workflow.
CONTENT_FIELDS = ("percent_complete", "status", "narrative", "kpi_actual", "investment_to_date", "decrease_reason")
EDITABLE_STATES = (State.DRAFT, State.RETURNED)


@dataclass(frozen=True)
class Receipt:
    """Proof of what an office filed and when: SHA-256 over the canonical content and the server time."""

    report_id: int
    revision: int
    submitted_at: str
    sha256: str
    content: str  # the exact canonical text that was hashed, so anyone can recompute it


def report_rules_check(
    *, pilot: Pilot, subtask: SubTask, period: Period, content: dict[str, Any], today=None,
    exclude_report_id: int | None = None,
) -> None:
    """Raise a ValidationError naming every field that breaks a rule."""
    today = today or timezone.localdate()
    errors: dict[str, str] = {}
    if pilot.state == Pilot.State.REVOKED:
        errors["pilot"] = _("This pilot has been revoked and accepts no new reports.")
    if subtask.task.programme_id != pilot.programme_id:
        errors["subtask"] = _("This sub-task belongs to another programme than the pilot.")
    if not period.overlaps(pilot.construction_start, pilot.construction_end):
        errors["period"] = _("%(period)s lies outside the pilot's construction window (%(start)s to %(end)s).") % {
            "period": period, "start": pilot.construction_start, "end": pilot.construction_end}
    elif period > Period.containing(today):
        errors["period"] = _("%(period)s has not begun; report on the current quarter or earlier.") % {"period": period}

    percent = Decimal(content["percent_complete"])
    status = content["status"]
    if status == Status.COMPLETED and percent != 100:
        errors["status"] = _("'completed' requires percent_complete to be 100.")
    if status in (Status.AT_RISK, Status.DELAYED) and not (content.get("narrative") or "").strip():
        errors["narrative"] = _("A narrative is required when the status is at risk or delayed.")
    last = last_approved_percent(pilot=pilot, subtask=subtask, period=period, exclude_report_id=exclude_report_id)
    if last is not None and percent < last and not (content.get("decrease_reason") or "").strip():
        errors["decrease_reason"] = _(
            "percent_complete is lower than the last approved report (%(last)s%%); give a reason."
        ) % {"last": last}
    if errors:
        raise ValidationError(errors)


def last_approved_percent(*, pilot: Pilot, subtask: SubTask, period: Period, exclude_report_id=None) -> Decimal | None:
    approved = ProgressReport.objects.filter(pilot=pilot, subtask=subtask, period_start__lte=period.start)
    if exclude_report_id is not None:
        approved = approved.exclude(pk=exclude_report_id)
    return approved.approved_latest_first().values_list("percent_complete", flat=True).first()


def report_create(
    *, pilot: Pilot, subtask: SubTask, period: Period, content: dict[str, Any], context: ChangeContext,
    submit: bool = False, is_demo: bool = False,
) -> ProgressReport:
    """File revision 1 of a report, as a draft or (``submit=True``) straight to review."""
    content = {field: content.get(field) for field in CONTENT_FIELDS}
    content["narrative"] = content["narrative"] or ""
    content["decrease_reason"] = content["decrease_reason"] or ""
    # The unique constraint finds a report filed before (or by a concurrent request a moment ago); only
    # then, once the transaction has rolled back, is it looked up, to name it.
    try:
        with transaction.atomic():
            report_rules_check(pilot=pilot, subtask=subtask, period=period, content=content)
            report = ProgressReport(
                pilot=pilot, subtask=subtask, period=str(period), period_start=period.start, revision=1,
                state=State.DRAFT, created_by=context.acting_user, is_demo=is_demo or pilot.is_demo, **content,
            )
            # pilot, subtask and created_by are instances the caller has already loaded: checking that
            # they exist would cost a query each.
            report.full_clean(exclude=["pilot", "subtask", "created_by"], validate_unique=False,
                              validate_constraints=False)
            report.save()
            history = [_record(report, Action.CREATE, "", State.DRAFT, context)]
            audit_record(context=context, action="create", instance=report, before=None, after=snapshot(report))
            if submit:
                report, _receipt = _submit(report, context, history=history)  # _transition tells completion
            # A draft counts in no figure (pending means submitted): nothing to recompute until submitted.
    except IntegrityError:
        existing = (ProgressReport.objects.filter(pilot=pilot, subtask=subtask, period=str(period))
                    .order_by("pk").values_list("pk", flat=True).first())
        if existing is None:
            raise
        raise ValidationError({"period": _(
            "A report for this pilot, sub-task and period exists already (id %(id)s); edit it or file a "
            "correction.") % {"id": existing}}) from None
    # What this call wrote is the new report's whole history: whoever shows it (the API's 201) need not
    # read it back. Django keeps prefetched relations in this cache.
    report._prefetched_objects_cache = {"transitions": history, "attachments": []}
    return report


def report_update(
    *, report_id: int, expected_version: int | None, changes: dict[str, Any], context: ChangeContext
) -> ProgressReport:
    """Edit a draft or returned report. An approved report is corrected with ``report_correct`` instead."""
    changes = {field: value for field, value in changes.items() if field in CONTENT_FIELDS}
    with transaction.atomic():
        report = _locked(report_id, expected_version)
        if report.state not in EDITABLE_STATES:
            raise InvalidTransition(_(
                "Only a draft or returned report can be edited; correct an approved report with a new revision."))
        merged = {field: getattr(report, field) for field in CONTENT_FIELDS} | changes
        report_rules_check(pilot=report.pilot, subtask=report.subtask, period=Period.parse(report.period),
                           content=merged, exclude_report_id=report.pk)
        before = snapshot(report)
        for field, value in changes.items():
            setattr(report, field, value)
        report.full_clean(validate_unique=False, validate_constraints=False)
        bump_version(report, **changes)
        audit_record(context=context, action="update", instance=report, before=before, after=snapshot(report))
    return report


def report_submit(*, report_id: int, expected_version: int | None, context: ChangeContext
                  ) -> tuple[ProgressReport, Receipt]:
    """Send a draft (or a returned report, again) to the province for review; returns the receipt."""
    with transaction.atomic():
        report = _locked(report_id, expected_version)
        if report.state not in EDITABLE_STATES:
            raise InvalidTransition(_("Only a draft or returned report can be submitted."))
        content = {field: getattr(report, field) for field in CONTENT_FIELDS}
        report_rules_check(pilot=report.pilot, subtask=report.subtask, period=Period.parse(report.period),
                           content=content, exclude_report_id=report.pk)
        return _submit(report, context)


def report_approve(*, report_id: int, expected_version: int | None, context: ChangeContext,
                   comment: str = "") -> ProgressReport:
    with transaction.atomic():
        report = _locked(report_id, expected_version)
        if report.state != State.SUBMITTED:
            raise InvalidTransition(_("Only a submitted report can be approved."))
        return _transition(report, Action.APPROVE, State.APPROVED, context, comment=comment,
                           reviewed_at=timezone.now(), reviewed_by=context.acting_user, review_comment=comment)


def report_return(*, report_id: int, expected_version: int | None, context: ChangeContext,
                  comment: str) -> ProgressReport:
    """Send a submitted report back to its office with a comment saying what to fix."""
    if not (comment or "").strip():
        raise ValidationError({"comment": _("Say what the office should fix.")})
    with transaction.atomic():
        report = _locked(report_id, expected_version)
        if report.state != State.SUBMITTED:
            raise InvalidTransition(_("Only a submitted report can be returned."))
        return _transition(report, Action.RETURN, State.RETURNED, context, comment=comment,
                           reviewed_at=timezone.now(), reviewed_by=context.acting_user, review_comment=comment)


def report_correct(
    *, report_id: int, expected_version: int | None, reason: str, changes: dict[str, Any], context: ChangeContext
) -> ProgressReport:
    """Start a correction of an approved report: a new draft revision that becomes the current one.

    The approved revision keeps counting in completion until the correction is itself approved.
    """
    if not (reason or "").strip():
        raise ValidationError({"correction_reason": _("A correction of an approved report needs a reason.")})
    changes = {field: value for field, value in changes.items() if field in CONTENT_FIELDS}
    with transaction.atomic():
        approved = _locked(report_id, expected_version)
        if approved.state != State.APPROVED or not approved.is_current:
            raise InvalidTransition(_("Only the current, approved revision of a report can be corrected."))
        content = {field: getattr(approved, field) for field in CONTENT_FIELDS} | changes
        period = Period.parse(approved.period)
        # A correction compares with the approved figures before this report, not with the one it corrects.
        report_rules_check(pilot=approved.pilot, subtask=approved.subtask, period=period, content=content,
                           exclude_report_id=approved.pk)
        bump_version(approved, is_current=False)
        correction = ProgressReport(
            pilot=approved.pilot, subtask=approved.subtask, period=approved.period, period_start=approved.period_start,
            revision=approved.revision + 1, state=State.DRAFT, correction_reason=reason, created_by=context.acting_user,
            is_demo=approved.is_demo, **content,
        )
        correction.full_clean(validate_unique=False, validate_constraints=False)
        correction.save()
        _record(correction, Action.CORRECT, "", State.DRAFT, context, comment=reason)
        audit_record(context=context, action="correct", instance=correction, before=snapshot(approved),
                     after=snapshot(correction))
    return correction


# --- internals --------------------------------------------------------------------------------

def _locked(report_id: int, expected_version: int | None) -> ProgressReport:
    return lock_version(
        ProgressReport, report_id, expected_version,
        queryset=ProgressReport.objects.select_related("pilot", "subtask__task"),
    )


def _record(report: ProgressReport, action: str, from_state: str, to_state: str, context: ChangeContext,
            comment: str = "") -> ReportTransition:
    return ReportTransition.objects.create(
        report=report, action=action, from_state=from_state, to_state=to_state, actor=context.acting_user,
        at=timezone.now(), comment=comment,
    )


def _transition(report: ProgressReport, action: str, to_state: str, context: ChangeContext, *, comment: str = "",
                history: list | None = None, **changes) -> ProgressReport:
    before = snapshot(report)
    from_state = report.state
    bump_version(report, state=to_state, **changes)
    step = _record(report, action, from_state, to_state, context, comment=comment)
    if history is not None:
        history.append(step)
    audit_record(context=context, action=action, instance=report, before=before, after=snapshot(report))
    _completion_changed(report)
    webhook_report_transition(report=report, action=action, comment=comment)
    return report


def _completion_changed(report: ProgressReport) -> None:
    """Have the pilot's completion recomputed once this transaction commits (through the outbox)."""
    outbox_enqueue(task=task_names.RECOMPUTE_PILOT_COMPLETION, kwargs={"pilot_id": report.pilot_id})
    overdue_changed(pilot_id=report.pilot_id)  # submitted, reviewed: what is overdue changes too


def _submit(report: ProgressReport, context: ChangeContext, *, history: list | None = None
            ) -> tuple[ProgressReport, Receipt]:
    action = Action.RESUBMIT if report.state == State.RETURNED else Action.SUBMIT
    submitted_at = timezone.now()
    receipt = receipt_issue(report, submitted_at)
    report = _transition(report, action, State.SUBMITTED, context, history=history, submitted_at=submitted_at,
                         receipt_hash=receipt.sha256)
    return report, receipt


def receipt_issue(report: ProgressReport, submitted_at) -> Receipt:
    """The receipt of filing ``report`` at ``submitted_at``: its canonical content and the SHA-256 of it, which
    the report stores as ``receipt_hash`` (every submission, and the demo data, issue it here)."""
    content = receipt_content(report, submitted_at)
    return Receipt(report.pk, report.revision, local_iso(submitted_at), _digest(content), content)


def receipt_content(report: ProgressReport, submitted_at, *, as_utc: bool = False) -> str:
    """The canonical text a receipt hashes: sorted-key JSON of what was filed, and the server time.

    The time is written with the service's offset (+08:00), like every other time the service writes.
    ``as_utc``: the form receipts issued before that had (``+00:00``), so that they still verify.
    """
    filed = {
        "report": report.pk,
        "pilot": report.pilot.code,
        "subtask": report.subtask.code,
        "period": report.period,
        "revision": report.revision,
        "submitted_at": submitted_at.astimezone(dt.timezone.utc).isoformat() if as_utc else local_iso(submitted_at),
        **{field: _plain(getattr(report, field)) for field in CONTENT_FIELDS},
    }
    return json.dumps(filed, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def receipt_of(report: ProgressReport) -> Receipt | None:
    """The receipt of a submitted report, as ``report_submit`` returned it; None for a draft, and for a
    returned report, whose last receipt is for figures the province sent back.

    The content is rebuilt from the stored report. A receipt issued before times were written in +08:00
    hashed its time in UTC: its content is given in that form, the one that matches its stored hash.
    """
    if report.state not in (ProgressReport.State.SUBMITTED, ProgressReport.State.APPROVED) \
            or report.submitted_at is None or not report.receipt_hash:
        return None
    receipt = receipt_issue(report, report.submitted_at)
    if receipt.sha256 == report.receipt_hash:
        return receipt
    content = receipt.content
    legacy = receipt_content(report, report.submitted_at, as_utc=True)
    if _digest(legacy) == report.receipt_hash:
        content = legacy
    return Receipt(report.pk, report.revision, receipt.submitted_at, report.receipt_hash, content)


def _digest(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def _plain(value):
    return str(value) if isinstance(value, Decimal) else value
