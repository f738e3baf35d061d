"""The bulletin's figures: read through the completion and overdue selectors, never aggregated here.

Everything is as of one date and one variant (``real_only``), like the completion API; the result is
plain JSON (decimals as strings such as ``"45.20"``, as the API renders them) so that it is stored with
the bulletin and the documents are generated from exactly what is stored.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from pilots.models import CompletionRollup, Organisation, ReportingRate
from pilots.periods import Period
from pilots.selectors.completion import (
    FIGURE_COLUMNS,
    RATE_COLUMNS,
    brief_columns,
    completion_rollups,
    on_date,
    province_completion,
    reporting_rates,
)
from pilots.selectors.overdue import overdue_computed_at, overdue_items
from smartcity.auth.access import Actor, Role
from tasks_app.models import Programme

Scope = CompletionRollup.Scope

# The worker reads as the provincial office does: every prefecture, every pilot.
PROVINCE_READER = Actor(user=None, role=Role.VIEWER, organisation_kind=Organisation.Kind.PROVINCE)

BEHIND = ("behind", "critical")


def _pct(value) -> str | None:
    return None if value is None else f"{Decimal(value).quantize(Decimal('0.01'), ROUND_HALF_UP):f}"


def _share(part: int | None, whole: int | None) -> str | None:
    """part / whole as a percentage with one decimal ("95.9"), as the bulletin prints it."""
    if part is None or not whole:
        return None
    return f"{(Decimal(100) * part / whole).quantize(Decimal('0.1'), ROUND_HALF_UP):f}"


def _ranked(rows: list[dict], key: str) -> None:
    """Competition ranking (1, 2, 2, 4) by ``key`` descending; rows without a figure get no rank."""
    ordered = sorted((r for r in rows if r[key] is not None), key=lambda r: Decimal(r[key]), reverse=True)
    previous, rank = None, 0
    for position, row in enumerate(ordered, start=1):
        if row[key] != previous:
            rank, previous = position, row[key]
        row["rank"] = rank
    for row in rows:
        row.setdefault("rank", None)


def bulletin_figures(*, programme: Programme, period: Period, as_of: dt.date, real_only: bool) -> dict:
    """Every figure of one quarter's bulletin, as of ``as_of``."""
    actor = PROVINCE_READER
    province = province_completion(actor=actor, programme=programme, as_of=as_of, real_only=real_only) or {}

    rates = on_date(reporting_rates(actor=actor, programme=programme).filter(period=str(period)),
                    as_of=as_of, real_only=real_only)
    province_rate = rates.filter(scope=ReportingRate.Scope.PROVINCE).values(*RATE_COLUMNS).first()
    rate_rows = {
        row["prefecture_id"]: row
        for row in rates.filter(scope=ReportingRate.Scope.PREFECTURE).values(
            *brief_columns("prefecture"), *RATE_COLUMNS)
    }
    completion_rows = {
        row["prefecture_id"]: row
        for row in on_date(completion_rollups(actor=actor, programme=programme, scope=Scope.PREFECTURE),
                           as_of=as_of, real_only=real_only).values(*brief_columns("prefecture"), *FIGURE_COLUMNS)
    }
    prefectures = []
    for prefecture_id in sorted(set(rate_rows) | set(completion_rows),
                                key=lambda pk: (rate_rows.get(pk) or completion_rows[pk])["prefecture__code"]):
        rate = rate_rows.get(prefecture_id) or {}
        figures = completion_rows.get(prefecture_id) or {}
        brief = rate or figures
        prefectures.append({
            "code": brief["prefecture__code"], "name": brief["prefecture__name_zh"],
            "expected": rate.get("expected", 0), "received": rate.get("received", 0),
            "on_time": rate.get("on_time", 0),
            "on_time_rate": _share(rate.get("on_time"), rate.get("expected")),
            "received_rate": _share(rate.get("received"), rate.get("expected")),
            "pilot_count": figures.get("pilot_count", 0), "demo_pilot_count": figures.get("demo_pilot_count", 0),
            "completion": _pct(figures.get("completion")), "planned": _pct(figures.get("planned")),
            "variance": _pct(figures.get("variance")), "schedule_status": figures.get("schedule_status"),
            "behind_count": figures.get("behind_count", 0), "critical_count": figures.get("critical_count", 0),
            "includes_demo": bool(figures.get("includes_demo")),
        })
    _ranked(prefectures, "completion")

    pilot_rows = (
        on_date(completion_rollups(actor=actor, programme=programme, scope=Scope.PILOT), as_of=as_of,
                real_only=real_only)
        .filter(schedule_status__in=BEHIND)
        .order_by("variance", "pilot__code")
        .values("pilot__code", "pilot__name_zh", "pilot__is_demo", "pilot__prefecture__name_zh", "completion",
                "planned", "variance", "schedule_status", "behind_count", "critical_count")
    )
    behind = [{
        "code": row["pilot__code"], "name": row["pilot__name_zh"], "is_demo": row["pilot__is_demo"],
        "prefecture": row["pilot__prefecture__name_zh"], "completion": _pct(row["completion"]),
        "planned": _pct(row["planned"]), "variance": _pct(row["variance"]),
        "schedule_status": row["schedule_status"], "behind_count": row["behind_count"],
        "critical_count": row["critical_count"],
    } for row in pilot_rows]

    items = overdue_items(actor=actor).filter(pilot__programme=programme).order_by("urgency", "due_on", "item_key")
    if real_only:
        items = items.filter(pilot__is_demo=False)
    overdue = [{
        "pilot": item.pilot.name_zh, "pilot_code": item.pilot.code, "is_demo": item.pilot.is_demo,
        "prefecture": item.pilot.prefecture.name_zh, "subtask": item.subtask.code,
        "subtask_name": item.subtask.name_zh, "kind": item.kind, "level": item.level, "period": item.period,
        "due_on": item.due_on.isoformat(),
    } for item in items]
    computed = overdue_computed_at()

    deadline = period.deadline(programme.report_due_days)
    return {
        "programme": programme.code,
        "programme_title": programme.title_zh,
        "programme_document_number": programme.document_number,
        "period": str(period),
        "year": period.year,
        "quarter": period.quarter,
        "deadline": deadline.date.isoformat(),
        "deadline_provisional": deadline.provisional,
        "as_of": as_of.isoformat(),
        "real_only": real_only,
        "province": {
            "expected": (province_rate or {}).get("expected", 0),
            "received": (province_rate or {}).get("received", 0),
            "on_time": (province_rate or {}).get("on_time", 0),
            "on_time_rate": _share((province_rate or {}).get("on_time"), (province_rate or {}).get("expected")),
            "received_rate": _share((province_rate or {}).get("received"), (province_rate or {}).get("expected")),
            "completion": _pct(province.get("completion")),
            "planned": _pct(province.get("planned")),
            "variance": _pct(province.get("variance")),
            "pilot_count": province.get("pilot_count", 0),
            "demo_pilot_count": province.get("demo_pilot_count", 0),
            "behind_count": province.get("behind_count", 0),
            "critical_count": province.get("critical_count", 0),
            "no_report_count": province.get("no_report_count", 0),
        },
        "prefectures": prefectures,
        "behind": behind,
        "overdue": overdue,
        "overdue_computed_at": timezone.localtime(computed).isoformat() if computed else None,
        "includes_demo": bool(province.get("includes_demo")) or any(p["includes_demo"] for p in prefectures)
        or any(row["is_demo"] for row in behind) or any(row["is_demo"] for row in overdue),
    }


def figures_exist(*, programme: Programme, as_of: dt.date, real_only: bool) -> bool:
    """Whether the completion engine stored a snapshot for that date (the worker computes it if not)."""
    return CompletionRollup.objects.filter(programme=programme, scope=Scope.PROVINCE, scope_id=programme.pk,
                                           as_of=as_of, real_only=real_only).exists()
