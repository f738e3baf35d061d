from __future__ import annotations

import django_filters

from smartcity.api.filters import NamedObjectFilter
from tasks_app.models import Department, Pillar, Programme, SubTask, Task


class ProgrammeFilterSet(django_filters.FilterSet):
    class Meta:
        model = Programme
        fields = ["code"]


class TaskFilterSet(django_filters.FilterSet):
    programme = NamedObjectFilter(field_name="programme", model=Programme, example="sc-2020-3")
    pillar = django_filters.CharFilter(field_name="pillar__code", help_text="Pillar code.")
    pillar_kind = django_filters.ChoiceFilter(field_name="pillar__kind", choices=Pillar.Kind.choices)
    code = django_filters.CharFilter(help_text="Task code, e.g. T3.")

    class Meta:
        model = Task
        fields = ["programme", "pillar", "pillar_kind", "code"]


class SubTaskFilterSet(django_filters.FilterSet):
    programme = NamedObjectFilter(field_name="task__programme", model=Programme, example="sc-2020-3")
    task = NamedObjectFilter(field_name="task", model=Task, example="T4")
    code = django_filters.CharFilter(help_text="Sub-task code, e.g. T5.2.")
    department = NamedObjectFilter(
        field_name="assignments__department", model=Department, example="fgw", distinct=True,
        help_text="The department, by its code (e.g. `fgw`) or its id: sub-tasks it leads or takes part in.",
    )
    lead_department = NamedObjectFilter(
        field_name="assignments__department", model=Department, example="fgw", where={"assignments__role": "lead"},
        distinct=True, help_text="The department, by its code (e.g. `fgw`) or its id: sub-tasks it leads.",
    )

    class Meta:
        model = SubTask
        fields = ["programme", "task", "code", "department", "lead_department"]


class DepartmentFilterSet(django_filters.FilterSet):
    code = django_filters.CharFilter()

    class Meta:
        model = Department
        fields = ["code"]
