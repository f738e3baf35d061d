from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_view

from smartcity.api.viewsets import ScopedReadOnlyViewSet
from tasks_app.api.filtersets import DepartmentFilterSet, ProgrammeFilterSet, SubTaskFilterSet, TaskFilterSet
from tasks_app.api.serializers import DepartmentSerializer, ProgrammeSerializer, SubTaskSerializer, TaskSerializer
from tasks_app.models import Department, Programme, SubTask, SubTaskDepartment, Task

# assignments → department: for lead_department and assignments[] of every sub-task.
_ASSIGNMENTS = Prefetch("assignments", queryset=SubTaskDepartment.objects.select_related("department"))


@extend_schema_view(
    list=extend_schema(summary="List programmes", description="Each programme (guideline) with its goal and deadline."),
    retrieve=extend_schema(summary="Show a programme"),
)
class ProgrammeViewSet(ScopedReadOnlyViewSet):
    queryset = Programme.objects.all()
    serializer_class = ProgrammeSerializer
    filterset_class = ProgrammeFilterSet
    ordering_fields = ["code", "goal_deadline"]


@extend_schema_view(
    list=extend_schema(summary="List key tasks", description="Key tasks with their pillar and sub-tasks."),
    retrieve=extend_schema(summary="Show a key task"),
)
class TaskViewSet(ScopedReadOnlyViewSet):
    queryset = Task.objects.select_related("programme", "pillar").prefetch_related(
        Prefetch("subtasks", queryset=SubTask.objects.prefetch_related(_ASSIGNMENTS))  # subtasks[]
    ).order_by("programme__code", "order", "code")
    serializer_class = TaskSerializer
    filterset_class = TaskFilterSet
    search_fields = ["code", "name_zh", "name_en"]
    ordering_fields = ["code", "order"]


@extend_schema_view(
    list=extend_schema(summary="List sub-tasks", description="Sub-tasks with weight and responsible departments."),
    retrieve=extend_schema(summary="Show a sub-task"),
)
class SubTaskViewSet(ScopedReadOnlyViewSet):
    queryset = (
        SubTask.objects.select_related("task__programme")  # programme, task
        .prefetch_related(_ASSIGNMENTS)
        .order_by("task__programme__code", "task__order", "order", "code")
    )
    serializer_class = SubTaskSerializer
    filterset_class = SubTaskFilterSet
    search_fields = ["code", "name_zh", "name_en"]
    ordering_fields = ["code", "weight"]


@extend_schema_view(
    list=extend_schema(summary="List departments", description="Provincial departments and the sub-tasks they lead "
                       "or take part in. The shipped assignment is a default pending the official annex."),
    retrieve=extend_schema(summary="Show a department"),
)
class DepartmentViewSet(ScopedReadOnlyViewSet):
    queryset = Department.objects.prefetch_related(
        Prefetch("assignments", queryset=SubTaskDepartment.objects.select_related("subtask"))  # leads, participates_in
    )
    serializer_class = DepartmentSerializer
    filterset_class = DepartmentFilterSet
    search_fields = ["code", "name_zh", "name_en"]
    ordering_fields = ["code"]
