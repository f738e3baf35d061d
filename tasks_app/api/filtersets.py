from __future__ import annotations

import django_filters

from tasks_app.models import Department, Pillar, Programme, SubTask, Task


class ProgrammeFilterSet(django_filters.FilterSet):
    class Meta:
        model = Programme
        fields = ["code"]


class TaskFilterSet(django_filters.FilterSet):
    programme = django_filters.CharFilter(field_name="programme__code", help_text="Programme code, e.g. sc-2020-3.")
    pillar = django_filters.CharFilter(field_name="pillar__code", help_text="Pillar code.")
    pillar_kind = django_filters.ChoiceFilter(field_name="pillar__kind", choices=Pillar.Kind.choices)
    code = django_filters.CharFilter(help_text="Task code, e.g. T3.")

    class Meta:
        model = Task
        fields = ["programme", "pillar", "pillar_kind", "code"]


class SubTaskFilterSet(django_filters.FilterSet):
    programme = django_filters.CharFilter(field_name="task__programme__code", help_text="Programme code.")
    task = django_filters.CharFilter(field_name="task__code", help_text="Task code, e.g. T5.")
    code = django_filters.CharFilter(help_text="Sub-task code, e.g. T5.2.")
    department = django_filters.CharFilter(
        field_name="assignments__department__code", distinct=True,
        help_text="Department code: sub-tasks it leads or takes part in.",
    )
    lead_department = django_filters.CharFilter(method="filter_lead", help_text="Department code: sub-tasks it leads.")

    class Meta:
        model = SubTask
        fields = ["programme", "task", "code", "department", "lead_department"]

    def filter_lead(self, queryset, name, value):
        return queryset.filter(assignments__department__code=value, assignments__role="lead")


class DepartmentFilterSet(django_filters.FilterSet):
    code = django_filters.CharFilter()

    class Meta:
        model = Department
        fields = ["code"]
