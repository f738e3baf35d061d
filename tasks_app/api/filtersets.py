from __future__ import annotations

import django_filters
from django.db.models import Q

from smartcity.api.filters import NamedObjectFilter
from tasks_app.models import (
    Basis,
    Department,
    EvaluationTree,
    Indicator,
    IndicatorTarget,
    Pillar,
    Programme,
    SubTask,
    Task,
)


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


class _EvidencedTaskFilter(NamedObjectFilter):
    """Indicators of a task: those evidencing the task itself and those evidencing one of its sub-tasks."""

    def apply(self, qs, ids: list[int]):
        return qs.filter(Q(task__in=ids) | Q(subtask__task__in=ids))


class IndicatorFilterSet(django_filters.FilterSet):
    programme = NamedObjectFilter(field_name="programme", model=Programme, example="sc-2024-660")
    task = _EvidencedTaskFilter(
        field_name="task", model=Task, example="Q3",
        help_text="The task, by its code (e.g. `Q3`) or its id: indicators of the task and of its sub-tasks.",
    )
    subtask = NamedObjectFilter(field_name="subtask", model=SubTask, example="Q3.8")
    code = django_filters.CharFilter(help_text="Indicator code, e.g. `Q3.8-5G`.")
    kind = django_filters.ChoiceFilter(choices=Indicator.Kind.choices)
    basis = django_filters.ChoiceFilter(choices=Basis.choices)

    class Meta:
        model = Indicator
        fields = ["programme", "task", "subtask", "code", "kind", "basis"]


class IndicatorTargetFilterSet(django_filters.FilterSet):
    programme = NamedObjectFilter(field_name="indicator__programme", model=Programme, example="sc-2024-660")
    indicator = NamedObjectFilter(field_name="indicator", model=Indicator, example="Q3.8-5G")
    level = django_filters.ChoiceFilter(choices=IndicatorTarget.Level.choices)
    scope_code = django_filters.CharFilter(help_text="The prefecture's or pilot's code, e.g. `510100`.")
    due_after = django_filters.DateFilter(field_name="due_on", lookup_expr="gte", help_text="Due on or after.")
    due_before = django_filters.DateFilter(field_name="due_on", lookup_expr="lte", help_text="Due on or before.")
    basis = django_filters.ChoiceFilter(choices=Basis.choices)

    class Meta:
        model = IndicatorTarget
        fields = ["programme", "indicator", "level", "scope_code", "due_after", "due_before", "basis"]


class EvaluationTreeFilterSet(django_filters.FilterSet):
    programme = NamedObjectFilter(field_name="programme", model=Programme, example="sc-2024-660")
    code = django_filters.CharFilter(help_text="Tree code, e.g. `gbt33356-2016`.")
    basis = django_filters.ChoiceFilter(choices=Basis.choices)

    class Meta:
        model = EvaluationTree
        fields = ["programme", "code", "basis"]
