from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tasks_app.models import (
    Basis,
    Department,
    EvaluationNode,
    EvaluationTree,
    Indicator,
    IndicatorTarget,
    Pillar,
    Programme,
    SubTask,
    SubTaskDepartment,
    Task,
)


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


# --- Indicators, targets and evaluation trees ------------------------------------------------------


class IndicatorTargetSerializer(serializers.ModelSerializer):
    """A dated milestone of an indicator; ``scope_code`` is the prefecture's or pilot's code, empty for the province."""

    indicator = serializers.SlugRelatedField(slug_field="code", read_only=True)
    indicator_id = serializers.IntegerField(read_only=True)
    programme = serializers.SlugRelatedField(source="indicator.programme", slug_field="code", read_only=True)
    etag = serializers.CharField(read_only=True, help_text="Send as `If-Match` to change or delete this target.")

    class Meta:
        model = IndicatorTarget
        fields = ["id", "indicator", "indicator_id", "programme", "level", "scope_code", "due_on", "value", "basis",
                  "source", "etag"]
        read_only_fields = fields


class IndicatorTargetInIndicatorSerializer(IndicatorTargetSerializer):
    class Meta(IndicatorTargetSerializer.Meta):
        fields = ["id", "level", "scope_code", "due_on", "value", "basis", "source"]
        read_only_fields = fields


class IndicatorSerializer(serializers.ModelSerializer):
    """An indicator with its baseline and dated targets; ``basis`` says whether it is a sourced fact or a default."""

    programme = serializers.SlugRelatedField(slug_field="code", read_only=True)
    subtask = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    task = serializers.SerializerMethodField(help_text="The task it evidences: its own, or its sub-task's.")
    rollup_weight = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    targets = IndicatorTargetInIndicatorSerializer(many=True, read_only=True)
    etag = serializers.CharField(read_only=True, help_text="Send as `If-Match` to change this indicator.")

    class Meta:
        model = Indicator
        fields = ["id", "code", "name_zh", "name_en", "programme", "task", "subtask", "kind", "unit_zh", "unit_en",
                  "direction", "rollup", "rollup_weight", "baseline_value", "baseline_on", "basis", "source", "order",
                  "targets", "etag"]
        read_only_fields = fields

    def get_task(self, indicator: Indicator) -> str:
        # select_related("task", "subtask__task"): no query per row.
        return (indicator.subtask.task if indicator.subtask_id else indicator.task).code


class IndicatorWriteSerializer(serializers.Serializer):
    """What the provincial office sends to add (all required but those marked optional) or change an indicator.

    ``task`` or ``subtask`` (exactly one), and ``rollup_weight``, name catalog objects by code or id within
    the indicator's programme.
    """

    programme = serializers.CharField(help_text="The programme's code (e.g. `sc-2024-660`) or id; only on create.")
    code = serializers.CharField(max_length=40)
    name_zh = serializers.CharField(max_length=200)
    name_en = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Indicator.Kind.choices)
    unit_zh = serializers.CharField(max_length=20, required=False, allow_blank=True,
                                    help_text="Required for a count (个, 项…); implied by the other kinds.")
    unit_en = serializers.CharField(max_length=40, required=False, allow_blank=True)
    direction = serializers.ChoiceField(choices=Indicator.Direction.choices, required=False)
    rollup = serializers.ChoiceField(choices=Indicator.Rollup.choices)
    rollup_weight = serializers.CharField(required=False, allow_null=True,
                                          help_text="For a weighted mean: the weighing indicator's code or id.")
    task = serializers.CharField(required=False, allow_null=True, help_text="The task it evidences (code or id).")
    subtask = serializers.CharField(required=False, allow_null=True, help_text="The sub-task it evidences.")
    baseline_value = serializers.DecimalField(max_digits=18, decimal_places=4, required=False, allow_null=True)
    baseline_on = serializers.DateField(required=False, allow_null=True)
    order = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    basis = serializers.ChoiceField(choices=Basis.choices, required=False)
    source = serializers.CharField(required=False, allow_blank=True)


class IndicatorTargetWriteSerializer(serializers.Serializer):
    """A dated target: ``indicator`` (id) only on create."""

    indicator = serializers.IntegerField(min_value=1, max_value=2**63 - 1,
                                         help_text="The indicator's id; only on create.")
    level = serializers.ChoiceField(choices=IndicatorTarget.Level.choices)
    scope_code = serializers.CharField(max_length=12, required=False, allow_blank=True,
                                       help_text="The prefecture's or pilot's code; empty for the province.")
    due_on = serializers.DateField()
    value = serializers.DecimalField(max_digits=18, decimal_places=4)
    basis = serializers.ChoiceField(choices=Basis.choices, required=False)
    source = serializers.CharField(required=False, allow_blank=True)


class EvaluationNodeSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    indicator = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    rule = serializers.CharField(read_only=True, help_text="Items only: `linear`, `thresholds` or `yes_no`; empty "
                                 "on other nodes.")

    class Meta:
        model = EvaluationNode
        fields = ["id", "code", "parent", "level", "name_zh", "name_en", "weight", "indicator", "rule", "rule_params",
                  "basis", "source", "order"]
        read_only_fields = fields


class EvaluationTreeSerializer(serializers.ModelSerializer):
    """A weighted tree; ``nodes`` flat, parents before children, each naming its ``parent`` by code."""

    programme = serializers.SlugRelatedField(slug_field="code", read_only=True)
    nodes = serializers.SerializerMethodField()
    etag = serializers.CharField(read_only=True, help_text="Send as `If-Match` to change this tree.")

    class Meta:
        model = EvaluationTree
        fields = ["id", "code", "name_zh", "name_en", "programme", "edition", "basis", "source", "order", "nodes",
                  "etag"]
        read_only_fields = fields

    @extend_schema_field(EvaluationNodeSerializer(many=True))
    def get_nodes(self, tree: EvaluationTree):
        # Prefetched nodes (with parent and indicator), ordered first level, then second, then items.
        rank = {EvaluationNode.Level.FIRST: 0, EvaluationNode.Level.SECOND: 1, EvaluationNode.Level.ITEM: 2}
        nodes = sorted(tree.nodes.all(), key=lambda n: (rank[n.level], n.order, n.code))
        return EvaluationNodeSerializer(nodes, many=True).data


class EvaluationNodeWriteSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=40)
    parent = serializers.CharField(max_length=40, required=False, allow_null=True, allow_blank=True,
                                   help_text="The parent node's code; none for a first-level indicator.")
    level = serializers.ChoiceField(choices=EvaluationNode.Level.choices)
    name_zh = serializers.CharField(max_length=200)
    name_en = serializers.CharField(max_length=200)
    weight = serializers.DecimalField(max_digits=5, decimal_places=2, help_text="Points out of 100, two decimals.")
    indicator = serializers.CharField(required=False, allow_null=True,
                                      help_text="Items only: the indicator's code (in the tree's programme) or id.")
    rule = serializers.ChoiceField(choices=EvaluationNode.Rule.choices, required=False, allow_blank=True)
    rule_params = serializers.JSONField(required=False)
    order = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    basis = serializers.ChoiceField(choices=Basis.choices, required=False)
    source = serializers.CharField(required=False, allow_blank=True)


class EvaluationTreeWriteSerializer(serializers.Serializer):
    """A whole tree: its description and, on create or when given on change, all its nodes (replacing the old)."""

    programme = serializers.CharField(help_text="The programme's code or id; only on create.")
    code = serializers.SlugField(max_length=40)
    name_zh = serializers.CharField(max_length=200)
    name_en = serializers.CharField(max_length=200)
    edition = serializers.CharField(max_length=60, required=False, allow_blank=True)
    order = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    basis = serializers.ChoiceField(choices=Basis.choices, required=False)
    source = serializers.CharField(required=False, allow_blank=True)
    nodes = EvaluationNodeWriteSerializer(many=True, required=False)
