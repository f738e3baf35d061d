from __future__ import annotations

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from smartcity.api.concurrency import CONCURRENCY_RESPONSES, IF_MATCH_PARAMETER, expected_version
from smartcity.api.filters import resolve_named
from smartcity.api.idempotency import IDEMPOTENCY_PARAMETER, IDEMPOTENCY_RESPONSES, IdempotentPostMixin
from smartcity.api.viewsets import ScopedReadOnlyViewSet, ScopedViewSetMixin
from smartcity.audit import ChangeContext
from smartcity.auth.access import write_rule
from smartcity.auth.roles import Role
from tasks_app.api.filtersets import (
    DepartmentFilterSet,
    EvaluationTreeFilterSet,
    IndicatorFilterSet,
    IndicatorTargetFilterSet,
    ProgrammeFilterSet,
    SubTaskFilterSet,
    TaskFilterSet,
)
from tasks_app.api.serializers import (
    DepartmentSerializer,
    EvaluationNodeWriteSerializer,
    EvaluationTreeSerializer,
    EvaluationTreeWriteSerializer,
    IndicatorSerializer,
    IndicatorTargetSerializer,
    IndicatorTargetWriteSerializer,
    IndicatorWriteSerializer,
    ProgrammeSerializer,
    SubTaskSerializer,
    TaskSerializer,
)
from tasks_app.models import (
    Basis,
    Department,
    EvaluationNode,
    EvaluationTree,
    Indicator,
    IndicatorTarget,
    Programme,
    SubTask,
    SubTaskDepartment,
    Task,
)
from tasks_app.services import (
    evaluation_tree_create,
    evaluation_tree_update,
    indicator_create,
    indicator_target_create,
    indicator_target_delete,
    indicator_target_update,
    indicator_update,
)

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


# --- Indicators, targets and evaluation trees ------------------------------------------------------

# The provincial office (reviewers and administrators) keeps the catalog; everyone else reads it.
_OFFICE = write_rule(Role.REVIEWER, Role.ADMIN)
_WHO = "Provincial reviewers and administrators, with a read-write token; every change is audited."
_FACT_OR_DEFAULT = ("Every row says whether it is a sourced fact (`basis: fact`, with `source`) or our default "
                    "(`basis: default`), to be shown as such wherever a person sees it.")


def _etag_header(*status_codes: int) -> OpenApiParameter:
    return OpenApiParameter(
        name="ETag", location=OpenApiParameter.HEADER, type=str, response=list(status_codes),
        description="The object's version, e.g. `\"42.3\"`: send it as `If-Match` to change it.",
    )


def _named(queryset, value, field: str):
    """The one object ``value`` (a code or an id) names in ``queryset``, or a 400 on ``field``."""
    if value is None or value == "":
        return None
    ids = resolve_named(queryset, str(value))
    if len(ids) != 1:
        raise ValidationError({field: [_("“%(value)s” names no single object here.") % {"value": value}]},
                              code="unknown_object")
    return queryset.get(pk=ids[0])


class _CatalogWriteMixin:
    def _context(self) -> ChangeContext:
        return ChangeContext.from_request(self.request)

    def _programme(self, value):
        programme = _named(Programme.objects.all(), value, "programme")
        if programme is None:
            raise ValidationError({"programme": [_("This field is required.")]}, code="required")
        return programme

    def _respond(self, instance, status_code=status.HTTP_200_OK) -> Response:
        instance = self.get_queryset().get(pk=instance.pk)
        response = Response(self.get_serializer(instance).data, status=status_code, headers={"ETag": instance.etag})
        if status_code == status.HTTP_201_CREATED:
            response["Location"] = f"{self.request.path}{instance.pk}/"
        return response

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        return Response(self.get_serializer(instance).data, headers={"ETag": instance.etag})

    @staticmethod
    def _refuse(data: dict, *fields: str) -> None:
        for field in fields:
            if field in data:
                raise ValidationError({field: [_("This field cannot change; create a new object instead.")]},
                                      code="read_only")


_INDICATOR_EXAMPLE = OpenApiExample(
    "5G base stations, a fact from Sichuan's 14th five-year new-infrastructure plan",
    value={"id": 1, "code": "Q3.8-5G", "name_zh": "5G基站数量", "name_en": "5G base stations",
           "programme": "sc-2024-660", "task": "Q3", "subtask": "Q3.8", "kind": "count", "unit_zh": "个",
           "unit_en": "base stations", "direction": "higher", "rollup": "sum", "rollup_weight": None,
           "baseline_value": "36000.0000", "baseline_on": "2020-12-31", "basis": "fact",
           "source": "事实:《四川省“十四五”新型基础设施建设规划》……", "order": 1,
           "targets": [{"id": 1, "level": "province", "scope_code": "", "due_on": "2025-12-31",
                        "value": "250000.0000", "basis": "fact", "source": "事实:到2025年25万个……"}],
           "etag": "\"1.1\""},
    response_only=True, status_codes=["200", "201"],
)
_INDICATOR_CREATE_EXAMPLE = OpenApiExample(
    "Add a rate indicator to a sub-task",
    value={"programme": "sc-2024-660", "code": "Q2.5-ONLINE", "name_zh": "政务服务事项网上可办率",
           "name_en": "Share of government services available online", "kind": "rate", "rollup": "mean",
           "subtask": "Q2.5", "baseline_value": "82.5", "baseline_on": "2024-12-31", "basis": "default",
           "source": "默认:省级办公室设定"},
    request_only=True,
)
_INDICATOR_PATCH_EXAMPLE = OpenApiExample(
    "Correct the baseline", value={"baseline_value": "84.0", "baseline_on": "2024-12-31"}, request_only=True,
)


@extend_schema_view(
    list=extend_schema(summary="List indicators", description="The quantified indicators of each programme, each "
                       "evidencing one sub-task or one task, with its baseline and dated targets. Ordered by "
                       f"programme, then the programme's own order. {_FACT_OR_DEFAULT}"),
    retrieve=extend_schema(summary="Show an indicator", parameters=[_etag_header(200)],
                           examples=[_INDICATOR_EXAMPLE]),
    create=extend_schema(
        summary="Add an indicator",
        description="Kind `count` names its unit; `amount` is in 万元, `rate` in % (0–100), `yes_no` is 1 or 0. "
        "A `weighted_mean` names the indicator that weighs each pilot (`rollup_weight`). A baseline is a value "
        f"and its date. {_WHO}",
        request=IndicatorWriteSerializer, responses={201: IndicatorSerializer, **IDEMPOTENCY_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER, _etag_header(201)],
        examples=[_INDICATOR_CREATE_EXAMPLE, _INDICATOR_EXAMPLE],
    ),
    partial_update=extend_schema(
        summary="Change an indicator",
        description=f"Changes what it names; its `programme` stays. A new baseline date must precede every target. "
        f"Needs `If-Match`. {_WHO}",
        request=IndicatorWriteSerializer, responses={200: IndicatorSerializer, **CONCURRENCY_RESPONSES},
        parameters=[IF_MATCH_PARAMETER, _etag_header(200)], examples=[_INDICATOR_PATCH_EXAMPLE, _INDICATOR_EXAMPLE],
    ),
)
class IndicatorViewSet(_CatalogWriteMixin, IdempotentPostMixin, ScopedViewSetMixin, mixins.ListModelMixin,
                       mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = (
        Indicator.objects.select_related("programme", "task", "subtask__task", "rollup_weight")  # task, subtask…
        .prefetch_related(Prefetch("targets", queryset=IndicatorTarget.objects.order_by("level", "scope_code",
                                                                                         "due_on")))  # targets[]
        .order_by("programme__code", "order", "code", "id")
    )
    serializer_class = IndicatorSerializer
    filterset_class = IndicatorFilterSet
    search_fields = ["code", "name_zh", "name_en"]
    ordering_fields = ["code", "order"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    access_rules = {"create": _OFFICE, "partial_update": _OFFICE}

    def create(self, request, *args, **kwargs):
        params = IndicatorWriteSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        programme = self._programme(data.pop("programme"))
        indicator = indicator_create(programme=programme, data=self._resolve(programme, data, None),
                                     context=self._context())
        return self._respond(indicator, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        indicator = self.get_object()
        params = IndicatorWriteSerializer(data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        self._refuse(data, "programme")
        changes = self._resolve(indicator.programme, data, indicator)
        indicator = indicator_update(indicator_id=indicator.pk, expected_version=expected_version(request, indicator),
                                     changes=changes, context=self._context())
        return self._respond(indicator)

    @staticmethod
    def _resolve(programme: Programme, data: dict, indicator: Indicator | None) -> dict:
        """Codes in the body → the programme's objects; naming a task clears the sub-task and back."""
        if "task" in data:
            data["task"] = _named(Task.objects.filter(programme=programme), data["task"], "task")
            if data["task"] is not None and "subtask" not in data:
                data["subtask"] = None
        if "subtask" in data:
            data["subtask"] = _named(SubTask.objects.filter(task__programme=programme), data["subtask"], "subtask")
            if data["subtask"] is not None and "task" not in data:
                data["task"] = None
        if "rollup_weight" in data:
            data["rollup_weight"] = _named(Indicator.objects.filter(programme=programme), data["rollup_weight"],
                                           "rollup_weight")
        for field in ("unit_zh", "unit_en", "source"):
            if field in data and data[field] is None:
                data[field] = ""
        return data


_TARGET_EXAMPLE = OpenApiExample(
    "A province-level target for 2025",
    value={"id": 1, "indicator": "Q3.8-5G", "indicator_id": 1, "programme": "sc-2024-660", "level": "province",
           "scope_code": "", "due_on": "2025-12-31", "value": "250000.0000", "basis": "fact",
           "source": "事实:到2025年25万个……", "etag": "\"1.1\""},
    response_only=True, status_codes=["200", "201"],
)
_TARGET_CREATE_EXAMPLE = OpenApiExample(
    "Chengdu's 2027 target",
    value={"indicator": 1, "level": "prefecture", "scope_code": "510100", "due_on": "2027-12-31",
           "value": "60000", "basis": "default", "source": "默认:按人口分解"},
    request_only=True,
)


@extend_schema_view(
    list=extend_schema(summary="List indicator targets", description="Dated targets of every indicator at the "
                       "province, a prefecture (`scope_code` 510100) or a pilot (its county code). Ordered by "
                       f"programme, indicator, level, scope and date. {_FACT_OR_DEFAULT}"),
    retrieve=extend_schema(summary="Show an indicator target", parameters=[_etag_header(200)],
                           examples=[_TARGET_EXAMPLE]),
    create=extend_schema(
        summary="Add a dated target",
        description="One per indicator, level, scope and date; the date follows the indicator's baseline; the "
        "value fits its kind (a rate within 0–100; above a pilot, a `share_meeting` indicator's target is the "
        f"percentage of pilots meeting it). {_WHO}",
        request=IndicatorTargetWriteSerializer, responses={201: IndicatorTargetSerializer, **IDEMPOTENCY_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER, _etag_header(201)], examples=[_TARGET_CREATE_EXAMPLE, _TARGET_EXAMPLE],
    ),
    partial_update=extend_schema(
        summary="Change a dated target", description=f"Its indicator stays. Needs `If-Match`. {_WHO}",
        request=IndicatorTargetWriteSerializer, responses={200: IndicatorTargetSerializer, **CONCURRENCY_RESPONSES},
        parameters=[IF_MATCH_PARAMETER, _etag_header(200)], examples=[_TARGET_EXAMPLE],
    ),
    destroy=extend_schema(
        summary="Delete a dated target", description=f"Needs `If-Match`; the deleted row stays in the audit trail. "
        f"{_WHO}", responses={204: None, **CONCURRENCY_RESPONSES}, parameters=[IF_MATCH_PARAMETER],
    ),
)
class IndicatorTargetViewSet(_CatalogWriteMixin, IdempotentPostMixin, ScopedViewSetMixin, mixins.ListModelMixin,
                             mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = IndicatorTarget.objects.select_related("indicator__programme").order_by(  # indicator, programme
        "indicator__programme__code", "indicator__order", "indicator__code", "level", "scope_code", "due_on", "id"
    )
    serializer_class = IndicatorTargetSerializer
    filterset_class = IndicatorTargetFilterSet
    ordering_fields = ["due_on", "value"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    access_rules = {"create": _OFFICE, "partial_update": _OFFICE, "destroy": _OFFICE}

    def create(self, request, *args, **kwargs):
        params = IndicatorTargetWriteSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        indicator = Indicator.objects.filter(pk=data.pop("indicator")).first()
        if indicator is None:
            raise ValidationError({"indicator": [_("No indicator has this id.")]}, code="unknown_object")
        target = indicator_target_create(indicator=indicator, data=data, context=self._context())
        return self._respond(target, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        target = self.get_object()
        params = IndicatorTargetWriteSerializer(data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        self._refuse(data, "indicator")
        target = indicator_target_update(target_id=target.pk, expected_version=expected_version(request, target),
                                         changes=data, context=self._context())
        return self._respond(target)

    def destroy(self, request, *args, **kwargs):
        target = self.get_object()
        indicator_target_delete(target_id=target.pk, expected_version=expected_version(request, target),
                                context=self._context())
        return Response(status=status.HTTP_204_NO_CONTENT)


_TREE_EXAMPLE = OpenApiExample(
    "GB/T 33356-2016, first levels and their published weights (excerpt)",
    value={"id": 1, "code": "gbt33356-2016", "name_zh": "新型智慧城市评价指标(2016年版)",
           "name_en": "Evaluation indicators for new-type smart cities (2016 edition)", "programme": "sc-2024-660",
           "edition": "GB/T 33356-2016", "basis": "fact", "source": "事实:……", "order": 1,
           "nodes": [{"id": 1, "code": "L1", "parent": None, "level": "first", "name_zh": "惠民服务",
                      "name_en": "Services for the people", "weight": "37.00", "indicator": None, "rule": "",
                      "rule_params": {}, "basis": "fact", "source": "事实:……", "order": 1},
                     {"id": 9, "code": "L1P1", "parent": "L1", "level": "second", "name_zh": "政务服务",
                      "name_en": "Government services", "weight": "8.00", "indicator": None, "rule": "",
                      "rule_params": {}, "basis": "fact", "source": "事实:……", "order": 1}],
           "etag": "\"1.1\""},
    response_only=True, status_codes=["200", "201"],
)
_TREE_CREATE_EXAMPLE = OpenApiExample(
    "A two-level scoring tree",
    value={"programme": "sc-2024-660", "code": "pilot-scoring-2026", "name_zh": "2026年试点评分",
           "name_en": "Pilot scoring 2026", "basis": "default", "nodes": [
               {"code": "A", "level": "first", "name_zh": "数字基础设施", "name_en": "Infrastructure", "weight": "100"},
               {"code": "A1", "parent": "A", "level": "second", "name_zh": "网络", "name_en": "Networks",
                "weight": "100"},
               {"code": "A1-5G", "parent": "A1", "level": "item", "name_zh": "5G基站数量", "name_en": "5G base stations",
                "weight": "100", "indicator": "Q3.8-5G", "rule": "thresholds",
                "rule_params": {"thresholds": [[100000, 0.4], [200000, 0.8], [250000, 1]]}}]},
    request_only=True,
)


@extend_schema_view(
    list=extend_schema(summary="List evaluation trees", description="Weighted trees of evaluation indicators "
                       "(GB/T 33356 style) per programme: first-level, second-level and item nodes, each with its "
                       "weight in points of 100; an item is scored from an indicator by its rule. A node without "
                       "children that is not an item is structure whose lower levels are not sourced. "
                       f"{_FACT_OR_DEFAULT}"),
    retrieve=extend_schema(summary="Show an evaluation tree", parameters=[_etag_header(200)],
                           examples=[_TREE_EXAMPLE]),
    create=extend_schema(
        summary="Add an evaluation tree",
        description="The whole tree in one body, checked together: each parent's weight is the sum of its "
        "children's, the first level sums to 100, two decimals, no cycle, items under second-level nodes and "
        f"scored from an indicator of the same programme by `linear`, `thresholds` or `yes_no`. {_WHO}",
        request=EvaluationTreeWriteSerializer, responses={201: EvaluationTreeSerializer, **IDEMPOTENCY_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER, _etag_header(201)], examples=[_TREE_CREATE_EXAMPLE, _TREE_EXAMPLE],
    ),
    partial_update=extend_schema(
        summary="Change an evaluation tree",
        description="Changes its description; `nodes`, when given, replace all its nodes and are checked as on "
        f"create (the old nodes stay in the audit trail). Needs `If-Match`. {_WHO}",
        request=EvaluationTreeWriteSerializer, responses={200: EvaluationTreeSerializer, **CONCURRENCY_RESPONSES},
        parameters=[IF_MATCH_PARAMETER, _etag_header(200)], examples=[_TREE_EXAMPLE],
    ),
)
class EvaluationTreeViewSet(_CatalogWriteMixin, IdempotentPostMixin, ScopedViewSetMixin, mixins.ListModelMixin,
                            mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = (
        EvaluationTree.objects.select_related("programme")
        .prefetch_related(Prefetch("nodes", queryset=EvaluationNode.objects.select_related("parent", "indicator")))
        .order_by("programme__code", "order", "code", "id")  # nodes[] with their parent and indicator codes
    )
    serializer_class = EvaluationTreeSerializer
    filterset_class = EvaluationTreeFilterSet
    ordering_fields = ["code", "order"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    access_rules = {"create": _OFFICE, "partial_update": _OFFICE}

    def create(self, request, *args, **kwargs):
        data, rows = self._params(request, partial=False)
        programme = self._programme(data.pop("programme"))
        nodes = self._nodes(programme, rows or [])
        tree = evaluation_tree_create(programme=programme, data=data, nodes=nodes, context=self._context())
        return self._respond(tree, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        tree = self.get_object()
        data, rows = self._params(request, partial=True)
        self._refuse(data, "programme")
        nodes = self._nodes(tree.programme, rows) if rows is not None else None
        tree = evaluation_tree_update(tree_id=tree.pk, expected_version=expected_version(request, tree),
                                      changes=data, nodes=nodes, context=self._context())
        return self._respond(tree)

    @staticmethod
    def _params(request, *, partial: bool) -> tuple[dict, list[dict] | None]:
        """The tree's own fields, and its nodes each checked on its own, errors named ``nodes[3].weight``
        as the tree rules name them (DRF would name a nested list's rows ``nodes.3.weight``)."""
        body = request.data if isinstance(request.data, dict) else {}
        params = EvaluationTreeWriteSerializer(data={k: v for k, v in body.items() if k != "nodes"}, partial=partial)
        params.is_valid(raise_exception=True)
        if "nodes" not in body:
            return dict(params.validated_data), None
        rows = body["nodes"]
        if not isinstance(rows, list):
            raise ValidationError({"nodes": [_("A list of nodes is expected.")]}, code="not_a_list")
        errors, nodes = {}, []
        for index, row in enumerate(rows):
            node = EvaluationNodeWriteSerializer(data=row if isinstance(row, dict) else {})
            if not node.is_valid():
                for field, messages in node.errors.items():
                    errors[f"nodes[{index}].{field}"] = messages
            else:
                nodes.append(dict(node.validated_data))
        if errors:
            raise ValidationError(errors)
        return dict(params.validated_data), nodes

    @staticmethod
    def _nodes(programme: Programme, rows: list[dict]) -> list[dict]:
        indicators = Indicator.objects.filter(programme=programme)
        nodes = []
        for index, row in enumerate(rows):
            row = dict(row)
            row["indicator"] = _named(indicators, row.get("indicator"), f"nodes[{index}].indicator")
            row["parent"] = row.get("parent") or None
            row.setdefault("basis", Basis.DEFAULT)
            nodes.append(row)
        return nodes
