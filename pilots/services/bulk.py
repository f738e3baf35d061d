"""Filing many reports at once: a pilot's whole quarter in one request, or a spreadsheet upload.

All or nothing. Every report goes through ``report_create`` (and so through ``report_rules_check``),
each in its own savepoint, so that the errors of *every* item are collected, not just the first;
if any item fails, the whole transaction is rolled back and one ValidationError names each item's
fields (``reports[3].percent_complete``, ``rows[4].pilot_code``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from pilots.api.reports import ReportContentSerializer
from pilots.models import Pilot, ProgressReport
from pilots.periods import InvalidPeriod, Period
from pilots.services.reports import Receipt, receipt_of, report_create  # noqa: F401  (receipt_of: the API reads it here)
from pilots.services.spreadsheets import MAX_ROWS, SheetRow, parse_status
from smartcity.audit import ChangeContext
from tasks_app.models import SubTask

Errors = dict[str, list[ValidationError]]

# Where report_create's field names land in a spreadsheet row.
IMPORT_FIELD_NAMES = {"pilot": "pilot_code", "subtask": "subtask_code"}


@dataclass(frozen=True)
class Filing:
    """One report to file; ``prefix`` says where its errors go (``reports[3]``, ``rows[4]``)."""

    prefix: str
    pilot: Pilot
    subtask: SubTask
    period: Period
    content: dict[str, Any]


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
                 field_names: Mapping[str, str] = {}) -> list[ProgressReport]:
    """File every report of ``filings`` (submitting each with ``submit``), or none of them.

    ``errors`` already found by the caller (unparseable items) are reported together with the rule
    errors of the other items. ``field_names`` renames report_create's fields for the caller's input.
    """
    errors = {key: list(messages) for key, messages in (errors or {}).items()}
    first_at: dict[tuple[int, int, str], str] = {}
    filed: list[ProgressReport] = []
    with transaction.atomic():
        for filing in filings:
            identity = (filing.pilot.pk, filing.subtask.pk, str(filing.period))
            if identity in first_at:
                message = _("%(first)s already has this pilot, sub-task (%(subtask)s) and quarter (%(period)s); "
                            "each report is filed once.") % {
                    "first": first_at[identity], "subtask": filing.subtask.code, "period": filing.period}
                add_error(errors, f"{filing.prefix}.{field_names.get('subtask', 'subtask')}", message, "duplicate")
                continue
            first_at[identity] = filing.prefix
            try:  # report_create runs in its own savepoint: a failed item leaves nothing behind
                report = report_create(pilot=filing.pilot, subtask=filing.subtask, period=filing.period,
                                       content=filing.content, context=context, submit=submit)
            except ValidationError as exc:
                detail = exc.error_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.error_list}
                add_field_errors(errors, filing.prefix, detail, field_names)
                continue
            filed.append(report)
        if errors:
            raise ValidationError(errors)  # rolls back every report filed above
    return filed


def reports_import(*, rows: Iterable[SheetRow], actor, context: ChangeContext, submit: bool) -> list[ProgressReport]:
    """File the rows of an uploaded report sheet, all or nothing.

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
            filings.append(Filing(prefix, pilot, subtask, period, dict(content.validated_data)))

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
