"""The plans API: what each pilot commits to per sub-task (plan items) and its dated milestones.

A prefecture office manages the plans of its own pilots; the province (reviewers and administrators)
manages any; everyone else reads. Rules live in ``pilots.services.plans``.
"""

from __future__ import annotations

import django_filters
from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from pilots.api.common import (
    DemoLabelField,
    IdRelatedField,
    PartialUpdateMixin,
    PilotBriefSerializer,
    SubTaskBriefSerializer,
    VisiblePilotField,
)
from pilots.models import Milestone, Pilot, PlanChangeProposal, PlanItem, Prefecture
from pilots.services.plans import (
    milestone_create,
    milestone_delete,
    milestone_update,
    plan_change_approve,
    plan_change_needs_review,
    plan_change_propose,
    plan_change_reject,
    plan_item_accept,
    plan_item_create,
    plan_item_delete,
    plan_item_update,
)
from smartcity.api.concurrency import CONCURRENCY_RESPONSES, IF_MATCH_PARAMETER, expected_version
from smartcity.api.errors import ErrorSerializer
from smartcity.api.filters import NamedObjectFilter, WholeNumberFilter
from smartcity.api.idempotency import IDEMPOTENCY_PARAMETER, IDEMPOTENCY_RESPONSES, IdempotentPostMixin
from smartcity.api.viewsets import ScopedViewSetMixin
from smartcity.audit import ChangeContext
from smartcity.auth.access import Role, actor_for, write_rule
from smartcity.auth.roles import PROVINCE_ROLES
from smartcity.exceptions import InvalidTransition
from tasks_app.models import SubTask, Task

# --- Serializers --------------------------------------------------------------------------------


class MilestoneBriefSerializer(serializers.ModelSerializer):
    etag = serializers.CharField(read_only=True, help_text=_("Send back as If-Match to change this milestone."))

    class Meta:
        model = Milestone
        fields = ["id", "title", "due_on", "target_percent", "etag"]
        read_only_fields = fields


class ProposalReasonMixin(serializers.Serializer):
    reason = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, write_only=True,
        help_text=_("After the province has accepted the plan: why the office proposes this change."),
    )


class PlanItemSerializer(serializers.ModelSerializer):
    pilot = PilotBriefSerializer()
    subtask = SubTaskBriefSerializer()
    planned_investment = serializers.DecimalField(
        max_digits=14, decimal_places=2, read_only=True, allow_null=True,
        help_text=_("Planned investment, in 万元 (ten thousand yuan)."),
    )
    demo_label = DemoLabelField()
    accepted_at = serializers.DateTimeField(
        read_only=True, allow_null=True,
        help_text=_("When the province accepted this plan item; from then on an office's changes are proposals."),
    )
    accepted_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True,
                                               help_text=_("The provincial reviewer who accepted it."))
    etag = serializers.CharField(read_only=True, help_text=_("Send back as If-Match to change this plan item."))

    class Meta:
        model = PlanItem
        fields = ["id", "pilot", "subtask", "description", "kpi_name", "kpi_unit", "kpi_target", "planned_investment",
                  "responsible_unit", "is_demo", "demo_label", "accepted_at", "accepted_by", "created_at",
                  "updated_at", "etag"]
        read_only_fields = fields


class PlanItemDetailSerializer(PlanItemSerializer):
    milestones = MilestoneBriefSerializer(many=True, read_only=True, help_text=_("Oldest first."))

    class Meta(PlanItemSerializer.Meta):
        fields = [*PlanItemSerializer.Meta.fields, "milestones"]
        read_only_fields = fields


class PlanItemContentSerializer(serializers.Serializer):
    """What an office commits to for one sub-task."""

    description = serializers.CharField(max_length=20000, help_text=_("What the pilot commits to build."))
    kpi_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                     help_text=_("The KPI that measures it, e.g. 政务服务事项网上可办率."))
    kpi_unit = serializers.CharField(max_length=50, required=False, allow_blank=True, default="",
                                     help_text=_("Unit of the KPI, e.g. %."))
    kpi_target = serializers.DecimalField(max_digits=16, decimal_places=2, required=False, allow_null=True,
                                          default=None, help_text=_("Target value of the KPI."))
    planned_investment = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True, default=None,
        help_text=_("Planned investment, in 万元 (ten thousand yuan); not negative."),
    )
    responsible_unit = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                             help_text=_("The local unit responsible, e.g. 区大数据中心."))


class PlanItemCreateSerializer(PlanItemContentSerializer):
    pilot = VisiblePilotField(help_text=_("Pilot id; a prefecture office may plan only its own pilots."))
    subtask = IdRelatedField(
        queryset=SubTask.objects.select_related("task"),
        help_text=_("Sub-task id, of the pilot's programme; one plan item per pilot and sub-task."),
    )


class PlanItemUpdateSerializer(PartialUpdateMixin, ProposalReasonMixin, PlanItemContentSerializer):
    """The fields of a PATCH: each optional."""


class MilestoneSerializer(serializers.ModelSerializer):
    plan_item = serializers.PrimaryKeyRelatedField(read_only=True, help_text=_("Plan item id."))
    pilot = serializers.IntegerField(source="plan_item.pilot_id", read_only=True, help_text=_("Pilot id."))
    subtask = serializers.CharField(source="plan_item.subtask.code", read_only=True,
                                    help_text=_("Sub-task code, e.g. T4.1."))
    etag = serializers.CharField(read_only=True, help_text=_("Send back as If-Match to change this milestone."))

    class Meta:
        model = Milestone
        fields = ["id", "plan_item", "pilot", "subtask", "title", "due_on", "target_percent", "created_at",
                  "updated_at", "etag"]
        read_only_fields = fields


@extend_schema_field(serializers.IntegerField())
class VisiblePlanItemField(IdRelatedField):
    """A plan item id the caller may see; any other id does not exist."""

    def get_queryset(self):
        return PlanItem.objects.visible_to(actor_for(self.context["request"]))


class MilestoneContentSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, help_text=_("What is done by then, e.g. 完成方案设计与招标."))
    due_on = serializers.DateField(help_text=_("Within the pilot's construction window; one milestone per day."))
    target_percent = serializers.DecimalField(
        max_digits=4, decimal_places=1, min_value=0, max_value=100,
        help_text=_("Percent complete due by then, 0–100 with one decimal; never lower than an earlier milestone's."),
    )


class MilestoneCreateSerializer(ProposalReasonMixin, MilestoneContentSerializer):
    plan_item = VisiblePlanItemField(help_text=_("Plan item id."))


class MilestoneUpdateSerializer(PartialUpdateMixin, ProposalReasonMixin, MilestoneContentSerializer):
    """The fields of a PATCH: each optional."""


class PlanChangeProposalSerializer(serializers.ModelSerializer):
    pilot = serializers.CharField(source="plan_item.pilot.code", read_only=True, help_text=_("Pilot code."))
    subtask = serializers.CharField(source="plan_item.subtask.code", read_only=True,
                                    help_text=_("Sub-task code, e.g. T4.1."))
    plan_item = serializers.PrimaryKeyRelatedField(read_only=True, help_text=_("Plan item id."))
    milestone = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True,
        help_text=_("The milestone changed or deleted (for an added one: set once approved)."),
    )
    changes = serializers.DictField(read_only=True, help_text=_("The proposed values, by field."))
    proposed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    etag = serializers.CharField(read_only=True, help_text=_("Send back as If-Match to approve or reject it."))

    class Meta:
        model = PlanChangeProposal
        fields = ["id", "plan_item", "pilot", "subtask", "milestone", "kind", "changes", "reason", "state",
                  "proposed_by", "proposed_at", "decided_by", "decided_at", "decision_comment", "etag"]
        read_only_fields = fields


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="",
                                    help_text=_("Optional note to the office."))


class RejectionSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=5000, help_text=_("Why the change is not accepted."))


# --- Filters ------------------------------------------------------------------------------------


class PlanItemFilterSet(django_filters.FilterSet):
    pilot = NamedObjectFilter(field_name="pilot", model=Pilot, example="510108")
    prefecture = NamedObjectFilter(field_name="pilot__prefecture", model=Prefecture, example="510100")
    task = NamedObjectFilter(field_name="subtask__task", model=Task, example="T4")
    subtask = NamedObjectFilter(field_name="subtask", model=SubTask, example="T4.1")
    demo = django_filters.BooleanFilter(field_name="is_demo", help_text="true: only demo data; false: only real.")

    class Meta:
        model = PlanItem
        fields = ["pilot", "prefecture", "task", "subtask", "demo"]


class MilestoneFilterSet(django_filters.FilterSet):
    pilot = NamedObjectFilter(field_name="plan_item__pilot", model=Pilot, example="510108")
    plan_item = WholeNumberFilter(field_name="plan_item_id", help_text="Plan item id.")
    due_from = django_filters.DateFilter(field_name="due_on", lookup_expr="gte",
                                         help_text="Due on or after this date, e.g. 2021-07-01.")
    due_to = django_filters.DateFilter(field_name="due_on", lookup_expr="lte",
                                       help_text="Due on or before this date, e.g. 2021-12-31.")

    class Meta:
        model = Milestone
        fields = ["pilot", "plan_item", "due_from", "due_to"]


class PlanChangeProposalFilterSet(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=PlanChangeProposal.State.choices,
                                                help_text="proposed, approved or rejected; repeatable.")
    kind = django_filters.MultipleChoiceFilter(choices=PlanChangeProposal.Kind.choices, help_text="Repeatable.")
    pilot = NamedObjectFilter(field_name="plan_item__pilot", model=Pilot, example="510108")
    prefecture = NamedObjectFilter(field_name="plan_item__pilot__prefecture", model=Prefecture, example="510100")
    plan_item = WholeNumberFilter(field_name="plan_item_id", help_text="Plan item id.")

    class Meta:
        model = PlanChangeProposal
        fields = ["state", "kind", "pilot", "prefecture", "plan_item"]


# --- Schema helpers -----------------------------------------------------------------------------

# A prefecture office plans its own pilots (its scope); the province plans any.
_MANAGERS = write_rule(Role.REPORTER, Role.REVIEWER, Role.ADMIN)
_TAGS = ["plans"]
_PROVINCE = write_rule(*PROVINCE_ROLES)
_WHO = ("A prefecture office's reporters manage their own pilots' plans; provincial reviewers and "
        "administrators manage any. Other roles read only. Once the province has accepted a plan item, a "
        "reporter's change to it or its milestones is not applied: it answers 202 with a proposal "
        "(`/api/v1/plan-proposals/`) that a provincial reviewer approves or rejects, and the accepted plan "
        "keeps counting until then.")


def _etag_header(*status_codes: int) -> OpenApiParameter:
    return OpenApiParameter(
        name="ETag", location=OpenApiParameter.HEADER, type=str, response=list(status_codes),
        description="The object's version, e.g. `\"42.3\"`: send it as `If-Match` to change or delete it.",
    )


_REVOKED = OpenApiResponse(ErrorSerializer, description="The pilot has been revoked; its plan no longer changes.")
_PROPOSED = OpenApiResponse(
    PlanChangeProposalSerializer,
    description="The plan item is accepted and the caller is a prefecture reporter: the change is recorded as a "
    "proposal (its URL in `Location`), nothing changes until a provincial reviewer approves it.",
)
_PROPOSAL_EXAMPLE = OpenApiExample(
    "A reporter proposes a lower milestone",
    value={"id": 3, "plan_item": 7, "pilot": "510108", "subtask": "T4.1", "milestone": 21,
           "kind": "milestone_update", "changes": {"target_percent": "50.0"}, "reason": "征地延期",
           "state": "proposed", "proposed_by": "chengdu-clerk", "proposed_at": "2021-10-15T18:00:00+08:00",
           "decided_by": None, "decided_at": None, "decision_comment": "", "etag": "\"3.1\""},
    response_only=True, status_codes=["200", "202"],
)

_PLAN_EXAMPLE = OpenApiExample(
    "A pilot's plan for one sub-task",
    value={"pilot": 1, "subtask": 4, "description": "建成区级政务服务“一网通办”平台二期,事项网上可办率达到95%。",
           "kpi_name": "政务服务事项网上可办率", "kpi_unit": "%", "kpi_target": "95.00",
           "planned_investment": "1800.00", "responsible_unit": "成华区大数据中心"},
    request_only=True,
)
_PLAN_PATCH_EXAMPLE = OpenApiExample(
    "Raise the planned investment", value={"planned_investment": "2100.00"}, request_only=True,
)
_PLAN_RESPONSE_EXAMPLE = OpenApiExample(
    "A plan item with its milestones",
    value={"id": 7, "pilot": {"id": 1, "code": "510108", "name_zh": "成都市成华区", "name_en": "Chenghua District",
                              "prefecture": "510100", "is_demo": False},
           "subtask": {"id": 4, "code": "T4.1", "name_zh": "优化“互联网+政务服务”",
                       "name_en": "Optimise Internet + government services", "task": "T4"},
           "description": "建成区级政务服务“一网通办”平台二期,事项网上可办率达到95%。",
           "kpi_name": "政务服务事项网上可办率", "kpi_unit": "%", "kpi_target": "95.00",
           "planned_investment": "1800.00", "responsible_unit": "成华区大数据中心", "is_demo": False,
           "demo_label": None, "created_at": "2021-03-01T09:30:00+08:00", "updated_at": "2021-03-01T09:30:00+08:00",
           "etag": "\"7.1\"",
           "milestones": [
               {"id": 20, "title": "完成方案设计与招标", "due_on": "2021-06-30", "target_percent": "30.0",
                "etag": "\"20.1\""},
               {"id": 21, "title": "主体建设完成", "due_on": "2022-03-31", "target_percent": "70.0", "etag": "\"21.1\""},
               {"id": 22, "title": "通过验收", "due_on": "2022-12-31", "target_percent": "100.0", "etag": "\"22.1\""},
           ]},
    response_only=True, status_codes=["200", "201"],
)
_MILESTONE_EXAMPLE = OpenApiExample(
    "Design and tendering done by mid-2021",
    value={"plan_item": 7, "title": "完成方案设计与招标", "due_on": "2021-06-30", "target_percent": "30.0"},
    request_only=True,
)
_MILESTONE_PATCH_EXAMPLE = OpenApiExample(
    "Move a milestone a month later", value={"due_on": "2021-07-31"}, request_only=True,
)


class _PlanWriteMixin:
    """Shared answers of both viewsets: the detail body with its ETag."""

    detail_serializer_class: type[serializers.Serializer]

    def _context(self) -> ChangeContext:
        return ChangeContext.from_request(self.request)

    def _needs_review(self, plan_item: PlanItem) -> bool:
        return plan_change_needs_review(plan_item=plan_item, actor=actor_for(self.request))

    def _propose(self, *, plan_item: PlanItem, kind: str, changes: dict, milestone=None) -> Response:
        reason = changes.pop("reason", "")
        proposal = plan_change_propose(
            plan_item_id=plan_item.pk, kind=kind, changes=changes, reason=reason, context=self._context(),
            milestone_id=milestone.pk if milestone is not None else None,
            expected_version=expected_version(self.request, milestone or plan_item) if kind != "milestone_create"
            else None,
        )
        proposal = PlanChangeProposal.objects.select_related(*_PROPOSAL_RELATED).get(pk=proposal.pk)
        body = PlanChangeProposalSerializer(proposal, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED,
                        headers={"ETag": proposal.etag, "Location": f"/api/v1/plan-proposals/{proposal.pk}/"})

    def _respond(self, instance, status_code=status.HTTP_200_OK) -> Response:
        instance = self.get_queryset().get(pk=instance.pk)
        body = self.detail_serializer_class(instance, context=self.get_serializer_context()).data
        response = Response(body, status=status_code, headers={"ETag": instance.etag})
        if status_code == status.HTTP_201_CREATED:
            response["Location"] = f"{self.request.path}{instance.pk}/"
        return response

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        body = self.detail_serializer_class(instance, context=self.get_serializer_context()).data
        return Response(body, headers={"ETag": instance.etag})


# --- Plan items ---------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List plan items",
        description="What each pilot commits to per sub-task: description, KPI and target, planned investment "
        "(万元) and the responsible unit. A prefecture office sees its own pilots' plans; the province, "
        "departments and integrators see all. Milestones are listed at `/api/v1/milestones/` or in a plan item's detail.",
        tags=_TAGS,
    ),
    retrieve=extend_schema(
        summary="Show a plan item",
        description="With its milestones, oldest first. The `ETag` header is the value to send as `If-Match` "
        "when changing or deleting it.",
        responses={200: PlanItemDetailSerializer}, parameters=[_etag_header(200)], examples=[_PLAN_RESPONSE_EXAMPLE],
        tags=_TAGS,
    ),
    create=extend_schema(
        summary="Plan a pilot's sub-task",
        description=f"Creates the plan item of one pilot and sub-task (one per pair; the sub-task must belong to "
        f"the pilot's programme). Add milestones with `POST /api/v1/milestones/`. {_WHO}",
        request=PlanItemCreateSerializer,
        responses={201: PlanItemDetailSerializer, **IDEMPOTENCY_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER, _etag_header(201)], examples=[_PLAN_EXAMPLE, _PLAN_RESPONSE_EXAMPLE],
        tags=_TAGS,
    ),
    partial_update=extend_schema(
        summary="Change a plan item",
        description=f"Changes what the plan item commits to; its pilot and sub-task stay. Needs `If-Match`. {_WHO}",
        request=PlanItemUpdateSerializer,
        responses={200: PlanItemDetailSerializer, 202: _PROPOSED, 409: _REVOKED, **CONCURRENCY_RESPONSES},
        parameters=[IF_MATCH_PARAMETER, _etag_header(200)], examples=[_PLAN_PATCH_EXAMPLE, _PROPOSAL_EXAMPLE],
        tags=_TAGS,
    ),
    destroy=extend_schema(
        summary="Delete a plan item",
        description=f"Deletes the plan item with its milestones; every deleted row stays in the audit trail. "
        f"Needs `If-Match`. {_WHO} An accepted plan item is deleted only by the province.",
        responses={204: None, 409: OpenApiResponse(ErrorSerializer, description="The pilot has been revoked, or "
                   "a reporter tries to delete an accepted plan item."), **CONCURRENCY_RESPONSES},
        parameters=[IF_MATCH_PARAMETER],
        tags=_TAGS,
    ),
)
class PlanItemViewSet(_PlanWriteMixin, IdempotentPostMixin, ScopedViewSetMixin, mixins.ListModelMixin,
                      mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = PlanItem.objects.select_related("pilot__prefecture", "subtask__task")  # pilot{}, subtask{}
    serializer_class = PlanItemSerializer
    detail_serializer_class = PlanItemDetailSerializer
    filterset_class = PlanItemFilterSet
    search_fields = ["description", "kpi_name", "responsible_unit", "pilot__name_zh", "pilot__code"]
    ordering_fields = ["planned_investment", "created_at", "updated_at"]
    ordering = ["pilot__prefecture__code", "pilot__code", "subtask__task__order", "subtask__order", "id"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    access_rules = {"create": _MANAGERS, "partial_update": _MANAGERS, "destroy": _MANAGERS, "accept": _PROVINCE}

    def get_queryset(self):
        queryset = super().get_queryset().select_related("accepted_by")
        if self.action not in ("list", "destroy"):
            queryset = queryset.prefetch_related(
                Prefetch("milestones", queryset=Milestone.objects.order_by("due_on"))  # milestones[]
            )
        return queryset

    def create(self, request, *args, **kwargs):
        params = PlanItemCreateSerializer(data=request.data, context=self.get_serializer_context())
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        item = plan_item_create(pilot=data.pop("pilot"), subtask=data.pop("subtask"), content=data,
                                context=self._context())
        return self._respond(item, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        item = self.get_object()
        params = PlanItemUpdateSerializer(data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        if self._needs_review(item):
            return self._propose(plan_item=item, kind=PlanChangeProposal.Kind.PLAN_ITEM_UPDATE,
                                 changes=dict(params.validated_data))
        params.validated_data.pop("reason", None)
        item = plan_item_update(plan_item_id=item.pk, expected_version=expected_version(request, item),
                                changes=dict(params.validated_data), context=self._context())
        return self._respond(item)

    def destroy(self, request, *args, **kwargs):
        item = self.get_object()
        if self._needs_review(item):
            raise InvalidTransition(_("This plan item has been accepted by the province; only the province can "
                                      "delete it."))
        plan_item_delete(plan_item_id=item.pk, expected_version=expected_version(request, item),
                         context=self._context())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Accept a pilot's plan item",
        description="Provincial reviewers and administrators. From then on a prefecture reporter's change to the "
        "plan item or its milestones is a proposal for the province to approve, and the accepted plan keeps "
        "counting in completion until then. Needs `If-Match`; audited.",
        request=None, parameters=[IF_MATCH_PARAMETER, IDEMPOTENCY_PARAMETER, _etag_header(200)],
        responses={200: PlanItemDetailSerializer, 409: OpenApiResponse(ErrorSerializer, description="Already "
                   "accepted, or the pilot has been revoked."), **CONCURRENCY_RESPONSES, **IDEMPOTENCY_RESPONSES},
        tags=_TAGS,
    )
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        item = self.get_object()
        item = plan_item_accept(plan_item_id=item.pk, expected_version=expected_version(request, item),
                                context=self._context())
        return self._respond(item)


# --- Milestones ---------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List milestones",
        description="Dated targets of the plan items the caller sees: by `due_on` the sub-task should be "
        "`target_percent` complete. Filter by pilot, plan item or due date.",
        tags=_TAGS,
    ),
    retrieve=extend_schema(
        summary="Show a milestone",
        description="The `ETag` header is the value to send as `If-Match` when changing or deleting it.",
        parameters=[_etag_header(200)], tags=_TAGS,
    ),
    create=extend_schema(
        summary="Add a milestone to a plan item",
        description=f"The date lies within the pilot's construction window, one milestone per plan item and "
        f"day, and targets never decrease with later dates. {_WHO}",
        request=MilestoneCreateSerializer,
        responses={201: MilestoneSerializer, 202: _PROPOSED, **IDEMPOTENCY_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER, _etag_header(201)], examples=[_MILESTONE_EXAMPLE, _PROPOSAL_EXAMPLE],
        tags=_TAGS,
    ),
    partial_update=extend_schema(
        summary="Change a milestone",
        description=f"Its title, date or target, under the same rules as when adding it. Needs `If-Match`. {_WHO}",
        request=MilestoneUpdateSerializer,
        responses={200: MilestoneSerializer, 202: _PROPOSED, 409: _REVOKED, **CONCURRENCY_RESPONSES},
        parameters=[IF_MATCH_PARAMETER, _etag_header(200)], examples=[_MILESTONE_PATCH_EXAMPLE, _PROPOSAL_EXAMPLE],
        tags=_TAGS,
    ),
    destroy=extend_schema(
        summary="Delete a milestone",
        description=f"The deleted milestone stays in the audit trail. Needs `If-Match`. {_WHO}",
        responses={204: None, 202: _PROPOSED, 409: _REVOKED, **CONCURRENCY_RESPONSES},
        parameters=[IF_MATCH_PARAMETER],
        tags=_TAGS,
    ),
)
class MilestoneViewSet(_PlanWriteMixin, IdempotentPostMixin, ScopedViewSetMixin, mixins.ListModelMixin,
                       mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Milestone.objects.select_related("plan_item__subtask")  # pilot, subtask
    serializer_class = MilestoneSerializer
    detail_serializer_class = MilestoneSerializer
    filterset_class = MilestoneFilterSet
    search_fields = ["title"]
    ordering_fields = ["due_on", "target_percent", "updated_at"]
    ordering = ["plan_item__pilot__prefecture__code", "plan_item__pilot__code", "plan_item__subtask__task__order",
                "plan_item__subtask__order", "due_on"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    access_rules = {"create": _MANAGERS, "partial_update": _MANAGERS, "destroy": _MANAGERS}

    def create(self, request, *args, **kwargs):
        params = MilestoneCreateSerializer(data=request.data, context=self.get_serializer_context())
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        if self._needs_review(data["plan_item"]):
            return self._propose(plan_item=data.pop("plan_item"), kind=PlanChangeProposal.Kind.MILESTONE_CREATE,
                                 changes=data)
        milestone = milestone_create(plan_item=data["plan_item"], title=data["title"], due_on=data["due_on"],
                                     target_percent=data["target_percent"], context=self._context())
        return self._respond(milestone, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        milestone = self.get_object()
        params = MilestoneUpdateSerializer(data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        if self._needs_review(milestone.plan_item):
            return self._propose(plan_item=milestone.plan_item, kind=PlanChangeProposal.Kind.MILESTONE_UPDATE,
                                 changes=dict(params.validated_data), milestone=milestone)
        params.validated_data.pop("reason", None)
        milestone = milestone_update(milestone_id=milestone.pk, expected_version=expected_version(request, milestone),
                                     changes=dict(params.validated_data), context=self._context())
        return self._respond(milestone)

    def destroy(self, request, *args, **kwargs):
        milestone = self.get_object()
        if self._needs_review(milestone.plan_item):
            return self._propose(plan_item=milestone.plan_item, kind=PlanChangeProposal.Kind.MILESTONE_DELETE,
                                 changes={}, milestone=milestone)
        milestone_delete(milestone_id=milestone.pk, expected_version=expected_version(request, milestone),
                         context=self._context())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Change proposals on accepted plans -----------------------------------------------------------

_PROPOSAL_RELATED = ("plan_item__pilot", "plan_item__subtask", "proposed_by", "decided_by")
_PROPOSAL_TAGS = ["plans"]
_DECIDED = OpenApiResponse(ErrorSerializer, description="Already decided, decided by the person who proposed it, "
                           "the milestone it changes is gone, or the pilot has been revoked.")


@extend_schema_view(
    list=extend_schema(
        summary="List proposed changes to accepted plans",
        description="A prefecture reporter's changes to a plan item the province has accepted, newest first: "
        "proposed, approved or rejected. A prefecture office sees its own pilots'; the province, departments and "
        "integrators see all. Filter by state, kind, pilot, prefecture or plan item.",
        tags=_PROPOSAL_TAGS,
    ),
    retrieve=extend_schema(
        summary="Show a proposed change", description="The `ETag` header is the value to send as `If-Match` when "
        "approving or rejecting it.", parameters=[_etag_header(200)], examples=[_PROPOSAL_EXAMPLE],
        tags=_PROPOSAL_TAGS,
    ),
)
class PlanChangeProposalViewSet(IdempotentPostMixin, ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                                viewsets.GenericViewSet):
    queryset = PlanChangeProposal.objects.select_related(*_PROPOSAL_RELATED)
    serializer_class = PlanChangeProposalSerializer
    filterset_class = PlanChangeProposalFilterSet
    ordering_fields = ["proposed_at", "decided_at"]
    ordering = ["-proposed_at", "-id"]
    http_method_names = ["get", "post", "head", "options"]
    access_rules = {"approve": _PROVINCE, "reject": _PROVINCE}

    def _context(self) -> ChangeContext:
        return ChangeContext.from_request(self.request)

    def _respond(self, proposal) -> Response:
        proposal = self.get_queryset().get(pk=proposal.pk)
        return Response(self.get_serializer(proposal).data, headers={"ETag": proposal.etag})

    def retrieve(self, request, *args, **kwargs):
        return self._respond(self.get_object())

    @extend_schema(
        summary="Approve a proposed change",
        description="Provincial reviewers and administrators, never the person who proposed it. Applies the change "
        "under the rules of a direct edit (a change that no longer fits the plan is a 400 naming the field); from "
        "then on the new values count in completion. Needs `If-Match`.",
        request=DecisionSerializer, parameters=[IF_MATCH_PARAMETER, IDEMPOTENCY_PARAMETER],
        responses={200: PlanChangeProposalSerializer, 409: _DECIDED, **CONCURRENCY_RESPONSES,
                   **IDEMPOTENCY_RESPONSES},
        examples=[_PROPOSAL_EXAMPLE], tags=_PROPOSAL_TAGS,
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        proposal = self.get_object()
        params = DecisionSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        proposal = plan_change_approve(proposal_id=proposal.pk, expected_version=expected_version(request, proposal),
                                       comment=params.validated_data["comment"], context=self._context())
        return self._respond(proposal)

    @extend_schema(
        summary="Reject a proposed change",
        description="Provincial reviewers and administrators, with a comment saying why. The accepted plan stays "
        "as it is. Needs `If-Match`.",
        request=RejectionSerializer, parameters=[IF_MATCH_PARAMETER, IDEMPOTENCY_PARAMETER],
        responses={200: PlanChangeProposalSerializer, 409: _DECIDED, **CONCURRENCY_RESPONSES,
                   **IDEMPOTENCY_RESPONSES},
        tags=_PROPOSAL_TAGS,
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        proposal = self.get_object()
        params = RejectionSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        proposal = plan_change_reject(proposal_id=proposal.pk, expected_version=expected_version(request, proposal),
                                      comment=params.validated_data["comment"], context=self._context())
        return self._respond(proposal)
