"""Keeping the working-day calendar: one day at a time, or a whole year's arrangement at once.

Every change is audited, bumps the calendar's revision (so each process re-reads it) and sends
``calendar_changed`` in the same transaction, with the dates it moved: the domain connects a receiver
that enqueues (through the outbox) the recomputation of the deadlines those dates move. The platform
itself knows nothing of deadlines.

A year's arrangement is imported from a small JSON or CSV document (see ``parse_arrangement``); the
import replaces that year's days and marks the year known, all or nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from smartcity.audit import ChangeContext, audit_record, snapshot
from smartcity.concurrency import bump_version, lock_version
from smartcity.models import CalendarDay, CalendarRevision, CalendarYear
from smartcity.workdays import calendar_forget

# Sent inside the changing transaction. ``dates``: the days whose kind changed (a sorted list of dates).
calendar_changed = Signal()

DAY_FIELDS = ("date", "kind", "name", "source")
KINDS = {choice.value for choice in CalendarDay.Kind}
MIN_YEAR, MAX_YEAR = 2000, 2100


def calendar_day_create(*, date: dt.date, kind: str, name: str, source: str, context: ChangeContext) -> CalendarDay:
    with transaction.atomic():
        day = CalendarDay(date=date, kind=kind, name=name, source=source)
        day.full_clean(validate_unique=False)
        try:
            with transaction.atomic():
                day.save(force_insert=True)
        except IntegrityError:
            raise ValidationError({"date": ValidationError(_("The calendar already lists this date."),
                                                           code="duplicate")}) from None
        audit_record(context=context, action="create", instance=day, before=None, after=snapshot(day))
        calendar_touched({date}, context)
    return day


def calendar_day_update(
    *, day_id: int, expected_version: int | None, changes: dict[str, Any], context: ChangeContext
) -> CalendarDay:
    changes = {field: value for field, value in changes.items() if field in DAY_FIELDS}
    with transaction.atomic():
        day = lock_version(CalendarDay, day_id, expected_version)
        before = snapshot(day)
        moved = {day.date}
        for field, value in changes.items():
            setattr(day, field, value)
        moved.add(day.date)
        day.full_clean(validate_unique=False)
        try:
            with transaction.atomic():
                bump_version(day, **changes, updated_at=timezone.now())
        except IntegrityError:
            raise ValidationError({"date": ValidationError(_("The calendar already lists this date."),
                                                           code="duplicate")}) from None
        audit_record(context=context, action="update", instance=day, before=before, after=snapshot(day))
        calendar_touched(moved, context)
    return day


def calendar_day_delete(*, day_id: int, expected_version: int | None, context: ChangeContext) -> None:
    with transaction.atomic():
        day = lock_version(CalendarDay, day_id, expected_version)
        audit_record(context=context, action="delete", instance=day, before=snapshot(day), after=None)
        day.delete()
        calendar_touched({day.date}, context)


def calendar_year_import(*, arrangement: dict[str, Any], context: ChangeContext) -> CalendarYear:
    """Replace one year's days with ``arrangement`` (as ``parse_arrangement`` returns it) and mark it known."""
    year, source, days = arrangement["year"], arrangement["source"], arrangement["days"]
    with transaction.atomic():
        old = list(CalendarDay.objects.select_for_update().filter(date__year=year))
        old_kinds = {day.date: day.kind for day in old}
        for day in old:
            audit_record(context=context, action="delete", instance=day, before=snapshot(day), after=None)
        CalendarDay.objects.filter(pk__in=[day.pk for day in old]).delete()
        for row in days:
            day = CalendarDay(date=row["date"], kind=row["kind"], name=row["name"], source=source)
            day.save(force_insert=True)
            audit_record(context=context, action="create", instance=day, before=None, after=snapshot(day))
        calendar_year = CalendarYear.objects.select_for_update().filter(year=year).first()
        before = snapshot(calendar_year) if calendar_year else None
        if calendar_year is None:
            calendar_year = CalendarYear(year=year)
        calendar_year.source = source
        calendar_year.save()
        audit_record(context=context, action="update" if before else "create", instance=calendar_year,
                     before=before, after=snapshot(calendar_year))
        new_kinds = {row["date"]: row["kind"] for row in days}
        moved = {day for day in old_kinds.keys() | new_kinds.keys() if old_kinds.get(day) != new_kinds.get(day)}
        # Marking the year known changes no day, but it makes its deadlines facts: say so for the whole year.
        calendar_touched(moved, context, years={year})
    return calendar_year


# --- The arrangement document -------------------------------------------------------------------

def parse_arrangement(content: bytes | str, *, file_format: str) -> dict[str, Any]:
    """A year's arrangement from JSON or CSV, validated; a ``ValidationError`` names each bad field or row.

    JSON: ``{"year": 2027, "source": "…", "days": [{"date": "2027-01-01", "kind": "holiday", "name": "元旦"}, …]}``.
    CSV: the lines ``year,2027`` and ``source,…``, then the header ``date,kind,name`` and one row per day.
    Rows are numbered from 0 in both formats (``days[3].date``).
    """
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError({"file": ValidationError(_("The file is not UTF-8 text."), code="encoding")}) from None
    if file_format == "json":
        try:
            data = json.loads(content)
        except ValueError:
            raise ValidationError({"file": ValidationError(_("The file is not valid JSON."), code="parse_error")}) from None
    elif file_format == "csv":
        data = _csv_document(content)
    else:
        raise ValidationError({"format": ValidationError(_("The format is json or csv."), code="invalid_choice")})
    return validate_arrangement(data)


def validate_arrangement(data: Any) -> dict[str, Any]:
    errors: dict[str, list[ValidationError]] = {}

    def error(field: str, message: str, code: str) -> None:
        errors.setdefault(field, []).append(ValidationError(message, code=code))

    if not isinstance(data, dict):
        raise ValidationError({"file": ValidationError(_("The arrangement is an object with year, source and days."),
                                                       code="invalid")})
    year = data.get("year")
    if isinstance(year, str) and year.strip().isascii() and year.strip().isdigit():
        year = int(year.strip())
    if not isinstance(year, int) or isinstance(year, bool) or not MIN_YEAR <= year <= MAX_YEAR:
        error("year", _("The year is a whole number between 2000 and 2100."), "invalid")
        year = None
    source = data.get("source")
    if not isinstance(source, str) or not source.strip():
        error("source", _("Say where the arrangement was published: the notice's title or URL."), "required")
    elif len(source.strip()) > 500:
        error("source", _("At most 500 characters."), "max_length")
    rows = data.get("days")
    days: list[dict[str, Any]] = []
    if not isinstance(rows, list) or not rows:
        error("days", _("List the year's days: at least one holiday."), "required")
        rows = []
    seen: dict[dt.date, int] = {}
    for index, row in enumerate(rows):
        prefix = f"days[{index}]"
        if not isinstance(row, dict):
            error(prefix, _("Each day is an object with date, kind and name."), "invalid")
            continue
        day = _date(row.get("date"))
        if day is None:
            error(f"{prefix}.date", _("Not a date: write it as YYYY-MM-DD, e.g. 2027-02-06."), "invalid")
        elif year is not None and day.year != year:
            error(f"{prefix}.date", _("This date is not in the year of the arrangement."), "wrong_year")
        elif day in seen:
            error(f"{prefix}.date", _("This date is listed twice (also in days[%(index)d]).") % {"index": seen[day]},
                  "duplicate")
        else:
            seen[day] = index
        kind = row.get("kind")
        if kind not in KINDS:
            error(f"{prefix}.kind", _("The kind is holiday (statutory holiday) or workday (adjusted working day)."),
                  "invalid_choice")
        name = row.get("name")
        if not isinstance(name, str) or not name.strip():
            error(f"{prefix}.name", _("Name the holiday the day belongs to, e.g. 春节."), "required")
        elif len(name.strip()) > 100:
            error(f"{prefix}.name", _("At most 100 characters."), "max_length")
        else:
            name = name.strip()
        days.append({"date": day, "kind": kind, "name": name})
    if errors:
        raise ValidationError(errors)
    return {"year": year, "source": source.strip(), "days": days}


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or not value.strip().isascii():
        return None
    try:
        return dt.date.fromisoformat(value.strip()) if len(value.strip()) == 10 else None
    except ValueError:
        return None


def _csv_document(content: str) -> dict[str, Any]:
    data: dict[str, Any] = {"days": []}
    header_seen = False
    for cells in csv.reader(io.StringIO(content)):
        cells = [cell.strip() for cell in cells]
        if not any(cells):
            continue
        if not header_seen:
            key = cells[0].lower()
            if key in ("year", "source"):
                data[key] = cells[1] if len(cells) > 1 else ""
                continue
            if [cell.lower() for cell in cells[:3]] == ["date", "kind", "name"]:
                header_seen = True
                continue
            raise ValidationError({"file": ValidationError(
                _("The CSV starts with the lines year,… and source,…, then the header date,kind,name."),
                code="invalid")})
        data["days"].append({"date": cells[0], "kind": cells[1] if len(cells) > 1 else None,
                             "name": cells[2] if len(cells) > 2 else None})
    return data


# --- every change ends here ----------------------------------------------------------------------

def calendar_touched(dates: set[dt.date], context: ChangeContext, *, years: set[int] | None = None) -> None:
    """Bump the revision, forget this process's copy and tell the domain which dates changed (in the transaction)."""
    updated = CalendarRevision.objects.filter(pk=1).update(number=F("number") + 1)
    if not updated:
        CalendarRevision.objects.create(pk=1, number=1)
    calendar_forget()
    # A rollback leaves the stamp where it was, and this process's copy stale: read it afresh either way.
    transaction.on_commit(calendar_forget)
    calendar_changed.send(sender=CalendarDay, dates=sorted(dates), years=sorted(years or {d.year for d in dates}),
                          context=context)
