from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tasks_app.models import Department, Pillar, Programme, SubTask, SubTaskDepartment, Task


class ProgrammeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Programme
        fields = ["id", "code", "document_number", "title_zh", "title_en", "issuer_zh", "issuer_en", "issued_on",
                  "goal_pilot_count", "goal_deadline", "reporting_period", "report_due_days", "source_note"]
        read_only_fields = fields


class PillarSerializer(serializers.ModelSerializer):
    class Meta:
        model = Pillar
        fields = ["id", "code", "kind", "name_zh", "name_en"]
        read_only_fields = fields


class DepartmentBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "code", "name_zh", "name_en"]
        read_only_fields = fields


class AssignmentSerializer(serializers.ModelSerializer):
    department = DepartmentBriefSerializer()

    class Meta:
        model = SubTaskDepartment
        fields = ["department", "role", "basis"]
        read_only_fields = fields


class TaskBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Task
        fields = ["id", "code", "name_zh", "name_en"]
        read_only_fields = fields


class SubTaskSerializer(serializers.ModelSerializer):
    """A sub-task with its departments; ``assignments[].basis`` says whether the assignment is official."""

    programme = serializers.SlugRelatedField(source="task.programme", slug_field="code", read_only=True)
    task = TaskBriefSerializer()
    lead_department = serializers.SerializerMethodField()
    assignments = AssignmentSerializer(many=True)

    class Meta:
        model = SubTask
        fields = ["id", "code", "name_zh", "name_en", "weight", "programme", "task", "lead_department", "assignments"]
        read_only_fields = fields

    @extend_schema_field(DepartmentBriefSerializer(allow_null=True))
    def get_lead_department(self, subtask: SubTask):
        # Reads the prefetched assignments; a query here would cost one per row.
        lead = next((a for a in subtask.assignments.all() if a.role == SubTaskDepartment.Role.LEAD), None)
        return DepartmentBriefSerializer(lead.department).data if lead else None


class SubTaskInTaskSerializer(SubTaskSerializer):
    class Meta(SubTaskSerializer.Meta):
        fields = ["id", "code", "name_zh", "name_en", "weight", "lead_department", "assignments"]
        read_only_fields = fields


class TaskSerializer(serializers.ModelSerializer):
    programme = serializers.SlugRelatedField(slug_field="code", read_only=True)
    pillar = PillarSerializer()
    subtasks = SubTaskInTaskSerializer(many=True)

    class Meta:
        model = Task
        fields = ["id", "code", "name_zh", "name_en", "programme", "pillar", "subtasks"]
        read_only_fields = fields


class DepartmentSerializer(serializers.ModelSerializer):
    leads = serializers.SerializerMethodField(help_text="Codes of the sub-tasks this department leads.")
    participates_in = serializers.SerializerMethodField(help_text="Codes of the sub-tasks it takes part in.")

    class Meta:
        model = Department
        fields = ["id", "code", "name_zh", "name_en", "leads", "participates_in"]
        read_only_fields = fields

    def _codes(self, department: Department, role: str) -> list[str]:
        return [a.subtask.code for a in department.assignments.all() if a.role == role]

    def get_leads(self, department: Department) -> list[str]:
        return self._codes(department, SubTaskDepartment.Role.LEAD)

    def get_participates_in(self, department: Department) -> list[str]:
        return self._codes(department, SubTaskDepartment.Role.PARTICIPANT)
