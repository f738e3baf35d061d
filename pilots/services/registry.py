"""Writes on the registry: loading prefectures and pilots, and ensuring the organisations exist.

Like the catalog loaders, these create what is missing and never overwrite an existing row: the
provincial office may have edited it in the admin. Every created row is validated and audited.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from pilots.models import Organisation, Pilot, PilotStateChange, Prefecture
from smartcity.audit import ChangeContext, create_audited
from tasks_app.models import Department, Programme
from tasks_app.services import CatalogDataError

PROVINCE_ORGANISATION_CODE = "province"
PROVINCE_ORGANISATION_NAME_ZH = "四川省经济和信息化厅"
PROVINCE_ORGANISATION_NAME_EN = (
    "Sichuan Provincial Department of Economy and Information Technology (provincial office)"
)

PILOT_FIELDS = (
    "code", "name_zh", "name_en", "batch_year", "state", "designated_on",
    "construction_start", "construction_end", "is_demo", "source_note",
)


def prefecture_office_code(prefecture: Prefecture) -> str:
    return f"pref-{prefecture.code}"


def department_office_code(department: Department) -> str:
    return f"dept-{department.code}"


def registry_load_prefectures(*, data: dict[str, Any], context: ChangeContext) -> dict[str, int]:
    """Create the prefectures of a ``fixtures/prefectures.json``-shaped dict that do not exist yet."""
    created = 0
    with transaction.atomic():
        for row in data["prefectures"]:
            if Prefecture.objects.filter(code=row["code"]).exists():
                continue
            create_audited(
                instance=Prefecture(code=row["code"], name_zh=row["name_zh"], name_en=row["name_en"]),
                context=context,
            )
            created += 1
    return {"prefectures": created}


def registry_load_pilots(*, data: dict[str, Any], context: ChangeContext) -> dict[str, int]:
    """Create the pilots of a ``fixtures/pilots/*.json``-shaped dict that do not exist in their programme.

    Natural key: (programme, county code). Each new pilot gets its first life-cycle entry, the state
    it is loaded in, effective on its designation day.
    """
    counts = {"pilots": 0, "state_changes": 0}
    with transaction.atomic():
        programme = Programme.objects.filter(code=data["programme"]).first()
        if programme is None:
            raise CatalogDataError(f"Pilots for unknown programme {data['programme']!r} (load the programme first).")
        prefectures = {p.code: p for p in Prefecture.objects.all()}
        for row in data["pilots"]:
            if Pilot.objects.filter(programme=programme, code=row["code"]).exists():
                continue
            prefecture = prefectures.get(row["prefecture"])
            if prefecture is None:
                raise CatalogDataError(f"Pilot {row['code']}: unknown prefecture {row['prefecture']!r}.")
            pilot_create(
                programme=programme,
                prefecture=prefecture,
                fields={f: row[f] for f in PILOT_FIELDS if f in row},
                context=context,
            )
            counts["pilots"] += 1
            counts["state_changes"] += 1
    return counts


def pilot_create(
    *, programme: Programme, prefecture: Prefecture, fields: dict[str, Any], context: ChangeContext
) -> Pilot:
    """Create one pilot with its first life-cycle entry."""
    with transaction.atomic():
        pilot = create_audited(
            instance=Pilot(programme=programme, prefecture=prefecture, **fields), context=context
        )
        pilot_record_initial_state(pilot=pilot, context=context)
    return pilot


def pilot_record_initial_state(*, pilot: Pilot, context: ChangeContext) -> PilotStateChange:
    """A new pilot's history starts with the state it was created in, effective on its designation day."""
    return create_audited(
        instance=PilotStateChange(
            pilot=pilot, state=pilot.state, effective_on=pilot.designated_on, note=pilot.source_note
        ),
        context=context,
    )


def organisations_ensure(*, context: ChangeContext) -> dict[str, int]:
    """Ensure the provincial office, one office per prefecture and one per department exist.

    A prefecture or department that already has an office (whatever its code, the admin may have
    changed it) is left alone.
    """
    created = 0
    with transaction.atomic():
        if not Organisation.objects.filter(code=PROVINCE_ORGANISATION_CODE).exists():
            create_audited(
                instance=Organisation(
                    code=PROVINCE_ORGANISATION_CODE, kind=Organisation.Kind.PROVINCE,
                    name_zh=PROVINCE_ORGANISATION_NAME_ZH, name_en=PROVINCE_ORGANISATION_NAME_EN,
                ),
                context=context,
            )
            created += 1
        for prefecture in Prefecture.objects.filter(office__isnull=True):
            create_audited(
                instance=Organisation(
                    code=prefecture_office_code(prefecture), kind=Organisation.Kind.PREFECTURE, prefecture=prefecture,
                    # The offices' formal names differ from place to place; this is a default to edit.
                    name_zh=f"{prefecture.name_zh}新型智慧城市建设领导小组办公室",
                    name_en=f"{prefecture.name_en} smart city office",
                ),
                context=context,
            )
            created += 1
        for department in Department.objects.filter(office__isnull=True):
            create_audited(
                instance=Organisation(
                    code=department_office_code(department), kind=Organisation.Kind.DEPARTMENT, department=department,
                    name_zh=department.name_zh, name_en=department.name_en,
                ),
                context=context,
            )
            created += 1
    return {"organisations": created}
