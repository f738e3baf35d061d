"""Writes on the catalog: loading departments and programmes from their fixture files.

Loading is idempotent and conservative: a row is looked up by its natural key and created only when
it is missing; an existing row is never overwritten, because the provincial office may have edited
it in the admin. Each created row is validated with ``full_clean()`` and audited.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from smartcity.audit import ChangeContext, create_audited
from tasks_app.models import Department, Pillar, Programme, SubTask, SubTaskDepartment, Task

PROGRAMME_FIELDS = (
    "document_number", "title_zh", "title_en", "issuer_zh", "issuer_en", "issued_on",
    "goal_pilot_count", "goal_deadline", "reporting_period", "report_due_days", "source_note",
)


class CatalogDataError(ValueError):
    """A fixture refers to something that does not exist (e.g. an unknown department code)."""


def catalog_load_departments(*, data: dict[str, Any], context: ChangeContext) -> dict[str, int]:
    """Create the departments of a ``fixtures/departments.json``-shaped dict that do not exist yet."""
    created = 0
    with transaction.atomic():
        for row in data["departments"]:
            if Department.objects.filter(code=row["code"]).exists():
                continue
            create_audited(
                instance=Department(code=row["code"], name_zh=row["name_zh"], name_en=row["name_en"]),
                context=context,
            )
            created += 1
    return {"departments": created}


def catalog_load_programme(*, data: dict[str, Any], context: ChangeContext) -> dict[str, int]:
    """Create what is missing of one programme file: the programme, pillars, tasks, sub-tasks, assignments.

    Natural keys: programme ``code``; pillar and task ``code`` within the programme; sub-task ``code``
    within its task. A sub-task's default assignment is applied as a whole and only while the sub-task
    has no departments at all: once the office has edited who is responsible, reloading never brings
    a removed department back nor adds a second lead.
    """
    counts = {"programmes": 0, "pillars": 0, "tasks": 0, "subtasks": 0, "assignments": 0}
    with transaction.atomic():
        programme_data = data["programme"]
        programme = Programme.objects.filter(code=programme_data["code"]).first()
        if programme is None:
            fields = {name: programme_data[name] for name in PROGRAMME_FIELDS if name in programme_data}
            programme = create_audited(instance=Programme(code=programme_data["code"], **fields), context=context)
            counts["programmes"] += 1

        pillars = {}
        for row in data["pillars"]:
            pillar = Pillar.objects.filter(programme=programme, code=row["code"]).first()
            if pillar is None:
                pillar = create_audited(
                    instance=Pillar(
                        programme=programme, code=row["code"], kind=row["kind"], order=row.get("order", 0),
                        name_zh=row["name_zh"], name_en=row["name_en"],
                    ),
                    context=context,
                )
                counts["pillars"] += 1
            pillars[pillar.code] = pillar

        subtasks = {}
        for task_row in data["tasks"]:
            task = Task.objects.filter(programme=programme, code=task_row["code"]).first()
            if task is None:
                pillar = pillars.get(task_row["pillar"])
                if pillar is None:
                    raise CatalogDataError(f"Task {task_row['code']}: unknown pillar {task_row['pillar']!r}.")
                task = create_audited(
                    instance=Task(
                        programme=programme, pillar=pillar, code=task_row["code"], order=task_row.get("order", 0),
                        name_zh=task_row["name_zh"], name_en=task_row["name_en"],
                    ),
                    context=context,
                )
                counts["tasks"] += 1
            for row in task_row.get("subtasks", []):
                subtask = SubTask.objects.filter(task=task, code=row["code"]).first()
                if subtask is None:
                    subtask = create_audited(
                        instance=SubTask(
                            task=task, code=row["code"], weight=row.get("weight", "1"), order=row.get("order", 0),
                            name_zh=row["name_zh"], name_en=row["name_en"],
                        ),
                        context=context,
                    )
                    counts["subtasks"] += 1
                subtasks[subtask.code] = subtask

        assignments = data.get("default_assignments")
        if assignments:
            counts["assignments"] = _assign_default_departments(
                subtasks=subtasks, assignments=assignments, context=context
            )
    return counts


def _assign_default_departments(
    *, subtasks: dict[str, SubTask], assignments: dict[str, Any], context: ChangeContext
) -> int:
    basis = assignments.get("basis", SubTaskDepartment.Basis.DEFAULT)
    created = 0
    for row in assignments["assignments"]:
        subtask = subtasks.get(row["subtask"])
        if subtask is None:
            raise CatalogDataError(f"Default assignment for unknown sub-task {row['subtask']!r}.")
        if subtask.assignments.exists():
            continue
        roles = [(row["lead"], SubTaskDepartment.Role.LEAD)]
        roles += [(code, SubTaskDepartment.Role.PARTICIPANT) for code in row.get("participants", [])]
        for department_code, role in roles:
            department = Department.objects.filter(code=department_code).first()
            if department is None:
                raise CatalogDataError(
                    f"Default assignment of {subtask.code}: unknown department {department_code!r} "
                    "(load fixtures/departments.json first)."
                )
            create_audited(
                instance=SubTaskDepartment(subtask=subtask, department=department, role=role, basis=basis),
                context=context,
            )
            created += 1
    return created
