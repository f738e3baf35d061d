"""Filing many reports at once: a pilot's whole quarter in one request, or a spreadsheet upload.

All or nothing. Each item either files a new report through ``report_create`` or, when it carries the
version tag (ETag) of an existing draft or returned report, as an export writes it, changes and
submits that report through ``report_update`` and ``report_submit``; so every item meets
``report_rules_check`` and leaves its audit entries. Each item runs in its own savepoint, so that the
errors of *every* item are collected, not just the first; if any item fails, the whole transaction is
rolled back and one ValidationError names each item's fields (``reports[3].percent_complete``,
``rows[4].version``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from pilots.models import Pilot, ProgressReport
from pilots.periods import InvalidPeriod, Period
from pilots.report_content import ReportContentSerializer
from pilots.services.reports import (
    CONTENT_FIELDS,
    EDITABLE_STATES,
    report_create,
    report_submit,
    report_update,
)
from pilots.services.spreadsheets import MAX_ROWS, SheetRow, parse_status
from smartcity.audit import ChangeContext
from smartcity.concurrency import parse_etag
from tasks_app.models import SubTask

Errors = dict[str, list[ValidationError]]

# Where report_create's field names land in a spreadsheet row.
IMPORT_FIELD_NAMES = {"pilot": "pilot_code", "subtask": "subtask_code"}

# What filing an item did to its report.
CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
OUTCOMES = (CREATED, UPDATED, UNCHANGED)

State = ProgressReport.State


@dataclass(frozen=True)
class Filing:
    """One report to file; ``prefix`` says where its errors go (``reports[3]``, ``rows[4]``).

    ``version`` is the ETag of the existing report the item changes (``"42.3"``, quotes optional), or
    None for a new report.
    """

    prefix: str
    pilot: Pilot
    subtask: SubTask
    period: Period
    content: dict[str, Any]
    version: str | None = None


@dataclass(frozen=True)
class Filed:
    """One item's report after filing, what was done to it, and whether this call submitted it."""

    report: ProgressReport
    outcome: str  # CREATED, UPDATED or UNCHANGED
    submitted_now: bool


def add_error(errors: Errors, key: str, message, code: str | None = None) -> None:
    errors.setdefault(key, []).append(message if isinstance(message, ValidationError)
                                      else ValidationError(str(message), code=code))


def add_field_errors(errors: Errors, prefix: str, detail: Mapping[str, Any], names: Mapping[str, str] = {}) -> None:
    """Add a serializer's or a ValidationError's field errors under ``prefix``."""
    for field, messages in detail.items():
        key = prefix if field in (NON_FIELD_ERRORS, "non_field_errors") else f"{prefix}.{names.get(field, field)}"
        for message in messages if isinstance(messages, list | tuple) else [messages]:
            add_error(errors, key, message, code=getattr(message, "code", None))


def reports_file(*, filings: Sequence[Filing], context: ChangeContext, submit: bool, errors: Errors | None = None,
                 field_names: Mapping[str, str] = {}) -> list[Filed]:
    """File every report of ``filings`` (submitting each with ``submit``), or none of them.

    An item without a version files a new report; one with the version of an existing report changes
    it (a draft or returned report; the version must be its current one) and, with ``submit``, submits
    it. An item identical to its report writes nothing. ``errors`` already found by the caller
    (unparseable items) are reported together with the rule errors of the other items.
    ``field_names`` renames report_create's fields for the caller's input.
    """
    errors = {key: list(messages) for key, messages in (errors or {}).items()}
    tags: dict[str, tuple[int, int]] = {}
    for filing in filings:
        if filing.version in (None, ""):
            continue
        tag = parse_etag(filing.version, quoted=False)
        if tag is None:
            add_error(errors, _version_key(filing, field_names), _(
                "%(value)s is not a report's version tag; leave the tag as the export wrote it (e.g. \"42.3\"), "
                "or empty for a new report.") % {"value": filing.version}, "invalid_version")
        else:
            tags[filing.prefix] = tag
    first_at: dict[tuple, str] = {}
    filed: list[Filed] = []
    with transaction.atomic():
        # The reports the items name, locked for this transaction so that no one changes them between
        # the version check and the write; and, for the new items, the current reports already filed.
        named = ProgressReport.objects.select_for_update(of=("self",)).select_related(
            "pilot", "subtask__task").in_bulk([pk for pk, _version in tags.values()])
        existing = _current_reports([filing for filing in filings if filing.prefix not in tags])
        for filing in filings:
            if filing.version not in (None, "") and filing.prefix not in tags:
                continue  # an unreadable tag, named above
            tag = tags.get(filing.prefix)
            identity = (filing.pilot.pk, filing.subtask.pk, str(filing.period), tag[0] if tag else None)
            if identity in first_at:
                message = _("%(first)s already has this pilot, sub-task (%(subtask)s) and quarter (%(period)s); "
                            "each report is filed once.") % {
                    "first": first_at[identity], "subtask": filing.subtask.code, "period": filing.period}
                add_error(errors, f"{filing.prefix}.{field_names.get('subtask', 'subtask')}", message, "duplicate")
                continue
            first_at[identity] = filing.prefix
            if tag is None:
                result = _file_new(filing, existing, context=context, submit=submit, errors=errors,
                                   field_names=field_names)
            else:
                result = _file_existing(filing, named.get(tag[0]), tag[1], context=context, submit=submit,
                                        errors=errors, field_names=field_names)
            if result is not None:
                filed.append(result)
        if errors:
            raise ValidationError(errors)  # rolls back every report filed above
    return filed


def _version_key(filing: Filing, field_names: Mapping[str, str]) -> str:
    return f"{filing.prefix}.{field_names.get('version', 'version')}"


def _current_reports(filings: Sequence[Filing]) -> dict[tuple[int, int, str], ProgressReport]:
    """The current reports filed already for the items' pilots, sub-tasks and quarters, in one query."""
    if not filings:
        return {}
    reports = ProgressReport.objects.filter(
        is_current=True, pilot__in={filing.pilot.pk for filing in filings},
        period__in={str(filing.period) for filing in filings},
    ).only("pk", "version", "pilot_id", "subtask_id", "period", "state")
    return {(report.pilot_id, report.subtask_id, report.period): report for report in reports}


def _file_new(filing: Filing, existing: Mapping, *, context: ChangeContext, submit: bool, errors: Errors,
              field_names: Mapping[str, str]) -> Filed | None:
    report = existing.get((filing.pilot.pk, filing.subtask.pk, str(filing.period)))
    if report is not None:
        add_error(errors, _version_key(filing, field_names), _(
            "A report for this pilot, sub-task (%(subtask)s) and quarter (%(period)s) exists already (id %(id)s); "
            "to change it, give its version %(etag)s, as an export writes it in the column 版本标记.") % {
            "subtask": filing.subtask.code, "period": filing.period, "id": report.pk, "etag": report.etag}, "exists")
        return None
    try:  # report_create runs in its own savepoint: a failed item leaves nothing behind
        report = report_create(pilot=filing.pilot, subtask=filing.subtask, period=filing.period,
                               content=filing.content, context=context, submit=submit)
    except ValidationError as exc:
        add_field_errors(errors, filing.prefix, _detail(exc), field_names)
        return None
    return Filed(report, CREATED, submit)


def _file_existing(filing: Filing, report: ProgressReport | None, version: int, *, context: ChangeContext,
                   submit: bool, errors: Errors, field_names: Mapping[str, str]) -> Filed | None:
    key = _version_key(filing, field_names)
    if report is None or (report.pilot_id, report.subtask_id, report.period) != (
            filing.pilot.pk, filing.subtask.pk, str(filing.period)):
        add_error(errors, key, _(
            "%(value)s is not the version of this pilot's report on %(subtask)s for %(period)s; leave the tag as "
            "the export wrote it, or empty for a new report.") % {
            "value": filing.version, "subtask": filing.subtask.code, "period": filing.period}, "unknown_version")
        return None
    if report.version != version:
        add_error(errors, key, _(
            "Report %(id)s has changed since this version was read (%(given)s; it is now %(etag)s). Export it "
            "again and reapply your change.") % {"id": report.pk, "given": filing.version, "etag": report.etag},
            "stale_version")
        return None
    content = {field: filing.content.get(field) for field in CONTENT_FIELDS}
    content["narrative"] = content["narrative"] or ""
    content["decrease_reason"] = content["decrease_reason"] or ""
    changed = any(getattr(report, field) != value for field, value in content.items())
    if report.state not in EDITABLE_STATES:
        if not changed:
            return Filed(report, UNCHANGED, False)  # submitted or approved already, as the file says
        if not report.is_current:
            message = _("Report %(id)s is a revision that has since been corrected; export the current revision "
                        "and change that.") % {"id": report.pk}
            code = "superseded"
        elif report.state == State.APPROVED:
            message = _("Report %(id)s is approved: an approved report is not changed by a re-filing but "
                        "corrected, with a reason, through POST /api/v1/reports/%(id)s/correct/.") % {"id": report.pk}
            code = "correction_required"
        else:
            message = _("Report %(id)s is under review; it can be changed once the province returns it.") % {
                "id": report.pk}
            code = "under_review"
        add_error(errors, filing.prefix, message, code)
        return None
    if not changed and not submit:
        return Filed(report, UNCHANGED, False)
    try:
        with transaction.atomic():  # the change and the submission, or neither
            if changed:
                report = report_update(report_id=report.pk, expected_version=version, changes=content,
                                       context=context)
            if submit:
                report, _receipt = report_submit(report_id=report.pk, expected_version=report.version,
                                                 context=context)
    except ValidationError as exc:
        add_field_errors(errors, filing.prefix, _detail(exc), field_names)
        return None
    return Filed(report, UPDATED if changed else UNCHANGED, submit)


def _detail(exc: ValidationError) -> Mapping[str, Any]:
    return exc.error_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.error_list}


def reports_import(*, rows: Iterable[SheetRow], actor, context: ChangeContext, submit: bool) -> list[Filed]:
    """File the rows of an uploaded report sheet, all or nothing.

    A row with a version (the column 版本标记 of an export) changes that report; see ``reports_file``.

    Pilot codes are looked up among the pilots the actor may see (another prefecture's pilot is as
    unknown as a mistyped code), sub-task codes in the pilot's programme. Errors are keyed
    ``rows[<row number as Excel shows it>].<column key>``.
    """
    rows = [row for row in rows if not row.is_blank]
    if not rows:
        raise ValidationError({"file": _("The file holds no reports below its header row.")})
    if len(rows) > MAX_ROWS:
        raise ValidationError({"file": _("A file may hold at most %(max)s reports; split it.") % {"max": MAX_ROWS}})

    pilots_by_code: dict[str, list[Pilot]] = defaultdict(list)
    for pilot in Pilot.objects.visible_to(actor).select_related("programme"):
        pilots_by_code[pilot.code].append(pilot)
    programmes = {pilot.programme_id for candidates in pilots_by_code.values() for pilot in candidates}
    subtasks = {(subtask.task.programme_id, subtask.code): subtask
                for subtask in SubTask.objects.filter(task__programme__in=programmes).select_related("task")}

    errors: Errors = {}
    filings: list[Filing] = []
    for row in rows:
        prefix, values = f"rows[{row.number}]", row.values
        row_errors: Errors = {}
        pilot = subtask = period = None

        pilot_code = values.get("pilot_code")
        candidates = pilots_by_code.get(str(pilot_code), []) if pilot_code else []
        if not pilot_code:
            add_error(row_errors, f"{prefix}.pilot_code", _("Give the pilot's code."), "required")
        elif len(candidates) != 1:
            add_error(row_errors, f"{prefix}.pilot_code", _(
                "%(code)s is not the code of one of your pilots; the pilots are listed on the template's help "
                "sheet.") % {"code": pilot_code}, "unknown_pilot" if not candidates else "ambiguous_pilot")
        else:
            pilot = candidates[0]

        subtask_code = values.get("subtask_code")
        if not subtask_code:
            add_error(row_errors, f"{prefix}.subtask_code", _("Give the sub-task's code, e.g. T4.1."), "required")
        elif pilot is not None:
            subtask = subtasks.get((pilot.programme_id, str(subtask_code)))
            if subtask is None:
                add_error(row_errors, f"{prefix}.subtask_code", _(
                    "%(code)s is not a sub-task of this pilot's programme.") % {"code": subtask_code},
                    "unknown_subtask")

        if not values.get("period"):
            add_error(row_errors, f"{prefix}.period", _("Give the quarter, e.g. 2021Q3."), "required")
        else:
            try:
                period = Period.parse(values["period"])
            except InvalidPeriod as exc:
                add_error(row_errors, f"{prefix}.period", str(exc), "invalid_period")

        content = ReportContentSerializer(data=_content_data(values))
        if not content.is_valid():
            add_field_errors(row_errors, prefix, content.errors)

        if row_errors:
            for key, messages in row_errors.items():
                errors.setdefault(key, []).extend(messages)
        else:
            filings.append(Filing(prefix, pilot, subtask, period, dict(content.validated_data),
                                  version=values.get("version")))

    return reports_file(filings=filings, context=context, submit=submit, errors=errors,
                        field_names=IMPORT_FIELD_NAMES)


def _content_data(values: Mapping[str, Any]) -> dict[str, Any]:
    """A row's content cells as ReportContentSerializer input; a blank cell is a missing value."""
    data = {}
    for field in ReportContentSerializer().fields:
        value = values.get(field)
        if value in (None, ""):
            continue
        data[field] = parse_status(value) if field == "status" else value
    return data
