"""The life-cycle API: application rounds, applications up to designation, and acceptance (验收).

Who does what follows 《四川省新型智慧城市试点示范管理办法(试行)》 第四条 (**fact**): a prefecture office
(reporters) files its counties' applications, recommends them and applies for acceptance; the province
(reviewers and administrators) opens rounds, records the expert reviews, the public notice, designation and
the acceptance reviews. Everyone else reads. Rules live in ``pilots.services.lifecycle``.
"""

from __future__ import annotations

from decimal import Decimal

import django_filters
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.http import FileResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from pilots.api.common import DemoLabelField, IdRelatedField, PilotBriefSerializer, VisiblePilotField
from pilots.models import (
    Acceptance,
    AcceptanceReview,
    AcceptanceStep,
    ApplicationRound,
    ApplicationStep,
    LifecycleDocument,
    Pilot,
    PilotApplication,
    Prefecture,
    RoundQuota,
)
from pilots.services.evidence import EVIDENCE_TYPES
from pilots.services.lifecycle import (
    acceptance_apply,
    acceptance_rectification_submit,
    acceptance_review,
    acceptance_revoke,
    application_decline,
    application_designate,
    application_file,
    application_notice,
    application_recommend,
    application_review,
    lifecycle_document_attach,
    round_create,
)
from smartcity.api.concurrency import CONCURRENCY_RESPONSES, IF_MATCH_PARAMETER, expected_version
from smartcity.api.errors import ErrorSerializer
from smartcity.api.filters import NamedObjectFilter, WholeNumberFilter
from smartcity.api.idempotency import IDEMPOTENCY_PARAMETER, IDEMPOTENCY_RESPONSES, IdempotentPostMixin
from smartcity.api.viewsets import ScopedViewSetMixin
from smartcity.audit import ChangeContext
from smartcity.auth.access import Role, actor_for, write_rule
from tasks_app.models import Programme

_OFFICE = write_rule(Role.REPORTER)  # a prefecture office acts for its own counties and pilots
_PROVINCE = write_rule(Role.REVIEWER, Role.ADMIN)
_DEFAULTS_NOTE = ("Fact (管理办法 第四条; the 2020 batch's announcement of 2021-01-22): the prefecture applies and "
                  "recommends, the province selects by expert review and public notice and leads acceptance. Default: "
                  "the score sheets, quotas and rules on findings and rectification, set per round.")

# --- Serializers: shared ------------------------------------------------------------------------


class CriterionSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=40, help_text=_("Criterion code, e.g. `plan`."))
    name_zh = serializers.CharField(max_length=200)
    name_en = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    max_score = serializers.DecimalField(max_digits=6, decimal_places=2, min_value=Decimal("0.01"), max_value=1000,
                                         help_text=_("A score lies from 0 to this value."))


class StepSerializer(serializers.Serializer):
    action = serializers.CharField(read_only=True, help_text=_("apply, recommend, review, notice, designate, …"))
    from_state = serializers.CharField(read_only=True)
    to_state = serializers.CharField(read_only=True)
    effective_on = serializers.DateField(read_only=True, help_text=_("The day the step took effect."))
    actor = serializers.CharField(source="actor.username", read_only=True, allow_null=True, default=None)
    recorded_at = serializers.DateTimeField(read_only=True)
    comment = serializers.CharField(read_only=True, help_text=_("Why: the opinion, findings or reason."))


class DocumentSerializer(serializers.ModelSerializer):
    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = LifecycleDocument
        fields = ["id", "kind", "original_name", "content_type", "size", "sha256", "uploaded_by", "uploaded_at"]
        read_only_fields = fields


class DocumentUploadSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=LifecycleDocument.Kind.choices,
                                   help_text=_("An application takes application_form, plan or other; an acceptance "
                                               "self_assessment, evidence, rectification or other."))
    file = serializers.FileField(help_text=_("PDF, image or Office file, checked by content."))


def _state_as_of_field():
    return serializers.SerializerMethodField(
        help_text=_("With `as_of`: the state as of that date (the last step effective by then); else null."))


# --- Rounds -------------------------------------------------------------------------------------


class RoundQuotaSerializer(serializers.ModelSerializer):
    prefecture = serializers.SlugRelatedField(slug_field="code", queryset=Prefecture.objects.all(),
                                              help_text=_("Prefecture code, e.g. 510100."))
    quota = serializers.IntegerField(min_value=1, max_value=100,
                                     help_text=_("How many applications it may recommend."))

    class Meta:
        model = RoundQuota
        fields = ["prefecture", "quota"]


class RoundSerializer(serializers.ModelSerializer):
    programme = serializers.SlugRelatedField(slug_field="code", read_only=True)
    quotas = RoundQuotaSerializer(many=True, read_only=True,
                                  help_text=_("A prefecture not listed has no quota."))
    selection_criteria = serializers.SerializerMethodField(
        help_text=_("The expert review's score sheet (the default one if the round sets none)."))
    acceptance_criteria = serializers.SerializerMethodField(help_text=_("The acceptance review's score sheet."))
    demo_label = DemoLabelField()
    etag = serializers.CharField(read_only=True)

    class Meta:
        model = ApplicationRound
        fields = ["id", "programme", "year", "title", "guide_title", "guide_url", "guide_document_number", "opens_on",
                  "closes_on", "quotas", "selection_criteria", "acceptance_criteria", "is_demo", "demo_label",
                  "source_note", "created_at", "etag"]
        read_only_fields = fields

    @extend_schema_field(CriterionSerializer(many=True))
    def get_selection_criteria(self, obj):
        return obj.criteria_for("selection")

    @extend_schema_field(CriterionSerializer(many=True))
    def get_acceptance_criteria(self, obj):
        return obj.criteria_for("acceptance")


class RoundCreateSerializer(serializers.Serializer):
    programme = IdRelatedField(queryset=Programme.objects.all(), help_text=_("Programme id."))
    year = serializers.IntegerField(min_value=2000, max_value=2100, help_text=_("The batch year; one per programme."))
    title = serializers.CharField(max_length=300)
    guide_title = serializers.CharField(max_length=300, help_text=_("Title of the year's application guide (申报指南)."))
    guide_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
    guide_document_number = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    opens_on = serializers.DateField()
    closes_on = serializers.DateField(help_text=_("Applications are filed from opens_on to closes_on inclusive."))
    quotas = RoundQuotaSerializer(many=True, required=False, default=list)
    selection_criteria = CriterionSerializer(many=True, required=False, default=list,
                                             help_text=_("Empty: the default score sheet."))
    acceptance_criteria = CriterionSerializer(many=True, required=False, default=list,
                                              help_text=_("Empty: the default score sheet."))
    is_demo = serializers.BooleanField(required=False, default=False,
                                       help_text=_("An invented round for demonstration."))
    source_note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="",
                                        help_text=_("Where the guide was published."))


_ROUND_EXAMPLE = OpenApiExample(
    "Open the 2027 round",
    value={"programme": 1, "year": 2027, "title": "2027年四川省新型智慧城市试点示范申报",
           "guide_title": "2027年度四川省新型智慧城市试点示范申报指南", "opens_on": "2027-03-01",
           "closes_on": "2027-04-30", "quotas": [{"prefecture": "510100", "quota": 2}], "is_demo": True},
    request_only=True,
)


@extend_schema_view(
    list=extend_schema(summary="List application rounds",
                       description="Each programme's yearly rounds with their guide, dates, quotas and score sheets. "
                       + _DEFAULTS_NOTE, tags=["life cycle"]),
    retrieve=extend_schema(summary="Show an application round", tags=["life cycle"]),
    create=extend_schema(
        summary="Open an application round",
        description="Provincial reviewers and administrators. One round per programme and year.",
        request=RoundCreateSerializer, responses={201: RoundSerializer, **IDEMPOTENCY_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER], examples=[_ROUND_EXAMPLE], tags=["life cycle"],
    ),
)
class RoundViewSet(IdempotentPostMixin, ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                   mixins.CreateModelMixin, viewsets.GenericViewSet):
    queryset = ApplicationRound.objects.select_related("programme").prefetch_related(
        Prefetch("quotas", queryset=RoundQuota.objects.select_related("prefecture")))  # quotas[].prefecture
    serializer_class = RoundSerializer
    filterset_fields = {"year": ["exact"]}
    ordering = ["-year", "id"]
    access_rules = {"create": _PROVINCE}

    def create(self, request, *args, **kwargs):
        params = RoundCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        quotas = [(item["prefecture"], item["quota"]) for item in data.pop("quotas")]
        round_ = round_create(quotas=quotas, context=ChangeContext.from_request(request), **data)
        round_ = self.get_queryset().get(pk=round_.pk)
        return Response(RoundSerializer(round_).data, status=status.HTTP_201_CREATED,
                        headers={"ETag": round_.etag, "Location": f"{request.path}{round_.pk}/"})


# --- Applications -------------------------------------------------------------------------------


class ApplicationSerializer(serializers.ModelSerializer):
    round = serializers.PrimaryKeyRelatedField(read_only=True, help_text=_("Round id."))
    year = serializers.IntegerField(source="round.year", read_only=True)
    prefecture = serializers.CharField(source="prefecture.code", read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    state_as_of = _state_as_of_field()
    reviewers = serializers.ListField(child=serializers.CharField(), read_only=True)
    scores = serializers.DictField(child=serializers.CharField(), read_only=True,
                                   help_text=_("Score per criterion code."))
    pilot = PilotBriefSerializer(read_only=True, allow_null=True, help_text=_("Set on designation."))
    demo_label = DemoLabelField()
    etag = serializers.CharField(read_only=True, help_text=_("Send back as If-Match to take the next step."))

    class Meta:
        model = PilotApplication
        fields = ["id", "round", "year", "prefecture", "county_code", "name_zh", "name_en", "plan_summary",
                  "planned_investment", "construction_start", "construction_end", "state", "state_label",
                  "state_as_of", "recommendation_rank", "recommendation_opinion", "reviewers", "scores",
                  "total_score", "conclusion", "findings", "notice_starts_on", "notice_ends_on", "objections", "pilot",
                  "is_demo", "demo_label", "created_at", "updated_at", "etag"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=PilotApplication.State.choices, allow_null=True))
    def get_state_as_of(self, obj):
        return getattr(obj, "state_as_of", None)


class ApplicationDetailSerializer(ApplicationSerializer):
    steps = StepSerializer(many=True, read_only=True, help_text=_("Oldest first."))
    documents = DocumentSerializer(many=True, read_only=True)

    class Meta(ApplicationSerializer.Meta):
        fields = [*ApplicationSerializer.Meta.fields, "steps", "documents"]
        read_only_fields = fields


class ApplicationCreateSerializer(serializers.Serializer):
    round = IdRelatedField(queryset=ApplicationRound.objects.all(), help_text=_("Round id."))
    county_code = serializers.RegexField(r"^\d{6}$", help_text=_("GB/T 2260 code of a county of your prefecture."))
    name_zh = serializers.CharField(max_length=200, help_text=_("e.g. 成都市成华区"))
    name_en = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    plan_summary = serializers.CharField(max_length=20000, help_text=_("The declared pilot and its plan."))
    planned_investment = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False,
                                                  allow_null=True, default=None, help_text=_("In 万元."))
    construction_start = serializers.DateField()
    construction_end = serializers.DateField()


class RecommendSerializer(serializers.Serializer):
    rank = serializers.IntegerField(min_value=1, max_value=1000,
                                    help_text=_("1 = the prefecture's first choice; within its quota, if any."))
    opinion = serializers.CharField(max_length=5000, help_text=_("The prefecture's opinion (推荐意见)."))


class SelectionReviewSerializer(serializers.Serializer):
    reviewers = serializers.ListField(child=serializers.CharField(max_length=100), min_length=1, max_length=50,
                                      help_text=_("The experts' names."))
    scores = serializers.DictField(child=serializers.DecimalField(max_digits=7, decimal_places=2),
                                   help_text=_("Score per criterion of the round, each from 0 to its maximum."))
    conclusion = serializers.ChoiceField(choices=PilotApplication.Conclusion.choices)
    findings = serializers.CharField(max_length=20000, required=False, allow_blank=True, default="",
                                     help_text=_("Required when the application is not selected."))
    reviewed_on = serializers.DateField(required=False, allow_null=True, default=None,
                                        help_text=_("Default today; not in the future."))


class NoticeSerializer(serializers.Serializer):
    starts_on = serializers.DateField(help_text=_("First day of the public notice (公示); not in the future."))
    ends_on = serializers.DateField()


class DesignateSerializer(serializers.Serializer):
    designated_on = serializers.DateField(help_text=_("The day of the designation; on or after the notice ends."))
    objections = serializers.CharField(max_length=20000, required=False, allow_blank=True, default="",
                                       help_text=_("Objections received during the notice and how they were handled."))
    comment = serializers.CharField(max_length=300, required=False, allow_blank=True, default="",
                                    help_text=_("The announcement, kept as the pilot's source."))


class DeclineSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)
    objections = serializers.CharField(max_length=20000, required=False, allow_blank=True, default="")
    effective_on = serializers.DateField(required=False, allow_null=True, default=None)


class _AsOfFilterSet(django_filters.FilterSet):
    """``as_of`` reads each record's state as of a past date; ``state`` then filters on that state."""

    as_of = django_filters.DateFilter(method="filter_as_of",
                                      help_text="Read the states as of this date, e.g. 2021-01-01.")
    demo = django_filters.BooleanFilter(field_name="is_demo", help_text="true: only demo data; false: only real.")

    def filter_as_of(self, queryset, name, value):
        return queryset  # applied first in ``filter_queryset``, so that ``state`` can read it

    def filter_state(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(**{("state_as_of" if self.form.cleaned_data.get("as_of") else "state") + "__in": value})

    def filter_queryset(self, queryset):
        as_of = self.form.cleaned_data.get("as_of")
        if as_of:
            queryset = queryset.with_state_as_of(as_of)
        return super().filter_queryset(queryset)


class ApplicationFilterSet(_AsOfFilterSet):
    round = WholeNumberFilter(field_name="round_id", help_text="Round id.")
    year = WholeNumberFilter(field_name="round__year", help_text="Round year, e.g. 2020.")
    prefecture = NamedObjectFilter(field_name="prefecture", model=Prefecture, example="510100")
    state = django_filters.MultipleChoiceFilter(choices=PilotApplication.State.choices, method="filter_state",
                                                help_text="The state (as of `as_of` if given); repeatable.")

    class Meta:
        model = PilotApplication
        fields = ["round", "year", "prefecture", "state", "as_of", "demo"]


class AcceptanceFilterSet(_AsOfFilterSet):
    pilot = NamedObjectFilter(field_name="pilot", model=Pilot, example="510108")
    prefecture = NamedObjectFilter(field_name="pilot__prefecture", model=Prefecture, example="510100")
    state = django_filters.MultipleChoiceFilter(choices=Acceptance.State.choices, method="filter_state",
                                                help_text="The state (as of `as_of` if given); repeatable.")

    class Meta:
        model = Acceptance
        fields = ["pilot", "prefecture", "state", "as_of", "demo"]


def _step_responses(model_serializer, *states: str):
    return {200: model_serializer,
            409: OpenApiResponse(ErrorSerializer, description=f"A step out of order: only from {', '.join(states)}."),
            **CONCURRENCY_RESPONSES, **IDEMPOTENCY_RESPONSES}


_STEP_PARAMETERS = [IF_MATCH_PARAMETER, IDEMPOTENCY_PARAMETER]
_TAGS = ["life cycle"]


class _LifecycleViewSetMixin:
    detail_serializer_class: type[serializers.Serializer]
    document_owner: str

    def _context(self) -> ChangeContext:
        return ChangeContext.from_request(self.request)

    def _respond(self, instance, status_code=status.HTTP_200_OK) -> Response:
        instance = self.get_queryset().get(pk=instance.pk)
        body = self.detail_serializer_class(instance, context=self.get_serializer_context()).data
        response = Response(body, status=status_code, headers={"ETag": instance.etag})
        if status_code == status.HTTP_201_CREATED:
            response["Location"] = f"{self.request.path}{instance.pk}/"
        return response

    def _params(self, serializer_class):
        params = serializer_class(data=self.request.data, context=self.get_serializer_context())
        params.is_valid(raise_exception=True)
        return dict(params.validated_data)

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        body = self.detail_serializer_class(instance, context=self.get_serializer_context()).data
        return Response(body, headers={"ETag": instance.etag})

    def _documents(self, request):
        record = self.get_object()
        if request.method == "GET":
            return Response(DocumentSerializer(record.documents.all(), many=True).data)
        params = DocumentUploadSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        document = lifecycle_document_attach(
            kind=params.validated_data["kind"], upload=params.validated_data["file"], context=self._context(),
            **{f"{self.document_owner}_id": record.pk},
        )
        return Response(DocumentSerializer(document).data, status=status.HTTP_201_CREATED)

    def _document(self, document_id):
        record = self.get_object()
        document = get_object_or_404(record.documents.all(), pk=document_id)
        return FileResponse(document.file.open("rb"), as_attachment=True, filename=document.original_name,
                            content_type=document.content_type)


_DOCUMENT_DOWNLOAD = {(200, content_type): OpenApiTypes.BINARY
                      for content_type in sorted({t for t, _c in EVIDENCE_TYPES.values()})}
_DOCUMENT_UPLOAD_DESCRIPTION = ("Multipart upload, fields `kind` and `file`; checked by content as report evidence is "
                                "(PDF, PNG, JPEG, Word, Excel, PowerPoint; size limit EVIDENCE_MAX_BYTES). The "
                                "prefecture office only, while the record is still open to documents.")

_APPLICATION_EXAMPLE = OpenApiExample(
    "成都市 files 成华区's application",
    value={"round": 1, "county_code": "510108", "name_zh": "成都市成华区", "name_en": "Chenghua District",
           "plan_summary": "以“智慧蓉城”为牵引,建设城市运行管理平台……", "planned_investment": "12000.00",
           "construction_start": "2021-01-01", "construction_end": "2022-12-31"},
    request_only=True,
)
_REVIEW_EXAMPLE = OpenApiExample(
    "Selected by three experts",
    value={"reviewers": ["张专家", "李专家", "王专家"], "scores": {"basis": "26.5", "plan": "35", "support": "27"},
           "conclusion": "pass", "findings": "", "reviewed_on": "2020-12-20"},
    request_only=True,
)


@extend_schema_view(
    list=extend_schema(
        summary="List applications",
        description="Counties' applications in the rounds, with the step each has reached. A prefecture office sees "
        "its own; everyone else the whole province. `as_of` gives each one's state as of a past date (and "
        "leaves out those filed later). " + _DEFAULTS_NOTE, tags=_TAGS),
    retrieve=extend_schema(summary="Show an application", description="With its steps (who, when, why) and "
                           "documents. The `ETag` is the `If-Match` of the next step.",
                           responses={200: ApplicationDetailSerializer}, tags=_TAGS),
    create=extend_schema(
        summary="File a county's application",
        description="A prefecture office's reporters, for a county of their own prefecture, while the round is "
        "open (its opening to closing date, Asia/Shanghai). One application per county and round.",
        request=ApplicationCreateSerializer, responses={201: ApplicationDetailSerializer, **IDEMPOTENCY_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER], examples=[_APPLICATION_EXAMPLE], tags=_TAGS),
)
class ApplicationViewSet(_LifecycleViewSetMixin, IdempotentPostMixin, ScopedViewSetMixin, mixins.ListModelMixin,
                         mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = PilotApplication.objects.select_related("round", "prefecture", "pilot__prefecture")  # year, pilot{}
    serializer_class = ApplicationSerializer
    detail_serializer_class = ApplicationDetailSerializer
    filterset_class = ApplicationFilterSet
    ordering_fields = ["county_code", "recommendation_rank", "total_score", "created_at"]
    ordering = ["round_id", "prefecture__code", "recommendation_rank", "county_code"]
    document_owner = "application"
    access_rules = {
        "create": _OFFICE, "recommend": _OFFICE, "documents": _OFFICE,
        "review": _PROVINCE, "notice": _PROVINCE, "designate": _PROVINCE, "decline": _PROVINCE,
    }

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            queryset = queryset.prefetch_related(
                Prefetch("steps", queryset=ApplicationStep.objects.select_related("actor")),  # steps[].actor
                Prefetch("documents", queryset=LifecycleDocument.objects.select_related("uploaded_by")),
            )
        return queryset

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def create(self, request, *args, **kwargs):
        data = self._params(ApplicationCreateSerializer)
        prefecture_id = actor_for(request).prefecture_id
        if prefecture_id is None:  # a reporter outside a prefecture office (an admin's mistake) files for no one
            raise PermissionDenied(_("Only a prefecture office files applications, for its own counties."))
        prefecture = Prefecture.objects.get(pk=prefecture_id)
        application = application_file(round_=data.pop("round"), prefecture=prefecture, context=self._context(),
                                       **data)
        return self._respond(application, status.HTTP_201_CREATED)

    @extend_schema(summary="Recommend an application (prefecture)",
                   description="The prefecture office ranks it with its opinion. Over the round's quota for the "
                   "prefecture, or a rank taken, is a 400 on `rank`.",
                   request=RecommendSerializer, parameters=_STEP_PARAMETERS,
                   responses=_step_responses(ApplicationDetailSerializer, "applied"), tags=_TAGS)
    @action(detail=True, methods=["post"])
    def recommend(self, request, pk=None):
        application = self.get_object()
        data = self._params(RecommendSerializer)
        application = application_recommend(application_id=application.pk,
                                            expected_version=expected_version(request, application),
                                            context=self._context(), **data)
        return self._respond(application)

    @extend_schema(summary="Record the expert review (province)",
                   description="The experts, a score per criterion of the round's score sheet (each within its "
                   "range), and the conclusion; an application not selected needs findings.",
                   request=SelectionReviewSerializer, parameters=_STEP_PARAMETERS, examples=[_REVIEW_EXAMPLE],
                   responses=_step_responses(ApplicationDetailSerializer, "recommended"), tags=_TAGS)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        application = self.get_object()
        data = self._params(SelectionReviewSerializer)
        application = application_review(application_id=application.pk,
                                         expected_version=expected_version(request, application),
                                         context=self._context(), **data)
        return self._respond(application)

    @extend_schema(summary="Put on public notice (province)", request=NoticeSerializer,
                   description="The notice's first and last day (公示).", parameters=_STEP_PARAMETERS,
                   responses=_step_responses(ApplicationDetailSerializer, "reviewed"), tags=_TAGS)
    @action(detail=True, methods=["post"])
    def notice(self, request, pk=None):
        application = self.get_object()
        data = self._params(NoticeSerializer)
        application = application_notice(application_id=application.pk,
                                         expected_version=expected_version(request, application),
                                         context=self._context(), **data)
        return self._respond(application)

    @extend_schema(summary="Designate the pilot (province)",
                   description="After the notice: records the objections and creates the pilot (or updates a "
                   "revoked or failed one) with the round's year as its batch and its first life-cycle entry.",
                   request=DesignateSerializer, parameters=_STEP_PARAMETERS,
                   responses=_step_responses(ApplicationDetailSerializer, "on_notice"), tags=_TAGS)
    @action(detail=True, methods=["post"])
    def designate(self, request, pk=None):
        application = self.get_object()
        data = self._params(DesignateSerializer)
        application = application_designate(application_id=application.pk,
                                             expected_version=expected_version(request, application),
                                             context=self._context(), **data)
        return self._respond(application)

    @extend_schema(summary="Decline an application (province)",
                   description="Ends it before designation, with the reason (e.g. an objection upheld).",
                   request=DeclineSerializer, parameters=_STEP_PARAMETERS,
                   responses=_step_responses(ApplicationDetailSerializer, "applied", "recommended", "reviewed",
                                             "on_notice"), tags=_TAGS)
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        application = self.get_object()
        data = self._params(DeclineSerializer)
        application = application_decline(application_id=application.pk,
                                           expected_version=expected_version(request, application),
                                           context=self._context(), **data)
        return self._respond(application)

    @extend_schema(methods=["GET"], summary="List an application's documents", request=None,
                   responses={200: DocumentSerializer(many=True)}, tags=_TAGS)
    @extend_schema(methods=["POST"], summary="Add a document to an application",
                   description=_DOCUMENT_UPLOAD_DESCRIPTION + " An application takes documents until it is recommended.",
                   request={"multipart/form-data": DocumentUploadSerializer}, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: DocumentSerializer, 409: OpenApiResponse(ErrorSerializer, description="Already "
                              "recommended."), **IDEMPOTENCY_RESPONSES}, tags=_TAGS)
    @action(detail=True, methods=["get", "post"], parser_classes=[MultiPartParser], pagination_class=None,
            filter_backends=[])
    def documents(self, request, pk=None):
        return self._documents(request)

    @extend_schema(summary="Download an application's document", responses=_DOCUMENT_DOWNLOAD, tags=_TAGS)
    @action(detail=True, methods=["get"], url_path=r"documents/(?P<document_id>[0-9]+)", filter_backends=[],
            pagination_class=None)
    def document(self, request, pk=None, document_id=None):
        return self._document(document_id)


# --- Acceptance ---------------------------------------------------------------------------------


class AcceptanceReviewSerializer(serializers.ModelSerializer):
    experts = serializers.ListField(child=serializers.CharField(), read_only=True)
    scores = serializers.DictField(child=serializers.CharField(), read_only=True)
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = AcceptanceReview
        fields = ["sequence", "reviewed_on", "experts", "scores", "total_score", "findings", "conclusion",
                  "rectify_by", "recorded_by", "recorded_at"]
        read_only_fields = fields


class AcceptanceSerializer(serializers.ModelSerializer):
    pilot = PilotBriefSerializer(read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    state_as_of = _state_as_of_field()
    demo_label = DemoLabelField()
    etag = serializers.CharField(read_only=True, help_text=_("Send back as If-Match to take the next step."))

    class Meta:
        model = Acceptance
        fields = ["id", "pilot", "state", "state_label", "state_as_of", "self_assessment", "rectify_by",
                  "rectification_report", "is_demo", "demo_label", "created_at", "updated_at", "etag"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=Acceptance.State.choices, allow_null=True))
    def get_state_as_of(self, obj):
        return getattr(obj, "state_as_of", None)


class AcceptanceDetailSerializer(AcceptanceSerializer):
    reviews = AcceptanceReviewSerializer(many=True, read_only=True, help_text=_("First review first."))
    steps = StepSerializer(many=True, read_only=True, help_text=_("Oldest first."))
    documents = DocumentSerializer(many=True, read_only=True)

    class Meta(AcceptanceSerializer.Meta):
        fields = [*AcceptanceSerializer.Meta.fields, "reviews", "steps", "documents"]
        read_only_fields = fields


class AcceptanceCreateSerializer(serializers.Serializer):
    pilot = VisiblePilotField(help_text=_("Pilot id; a prefecture office applies for its own pilots."))
    self_assessment = serializers.CharField(max_length=20000, help_text=_("The pilot's self-assessment (自评)."))


class AcceptanceReviewRequestSerializer(serializers.Serializer):
    experts = serializers.ListField(child=serializers.CharField(max_length=100), min_length=1, max_length=50)
    scores = serializers.DictField(child=serializers.DecimalField(max_digits=7, decimal_places=2),
                                   help_text=_("Score per criterion of the acceptance score sheet."))
    conclusion = serializers.ChoiceField(choices=Acceptance.Conclusion.choices)
    findings = serializers.CharField(max_length=20000, required=False, allow_blank=True, default="",
                                     help_text=_("Required unless passed."))
    rectify_by = serializers.DateField(required=False, allow_null=True, default=None,
                                       help_text=_("With `rectify` only: the date the rectification is due."))
    reviewed_on = serializers.DateField(required=False, allow_null=True, default=None)


class RectificationSerializer(serializers.Serializer):
    report = serializers.CharField(max_length=20000, help_text=_("What was rectified (整改报告)."))


class RevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)
    effective_on = serializers.DateField(required=False, allow_null=True, default=None)


_ACCEPTANCE_REVIEW_EXAMPLE = OpenApiExample(
    "Rectify by the end of June",
    value={"experts": ["张专家", "李专家"], "scores": {"tasks": "41", "results": "20", "management": "15"},
           "conclusion": "rectify", "findings": "城市运行管理平台数据汇聚不足", "rectify_by": "2023-06-30"},
    request_only=True,
)


@extend_schema_view(
    list=extend_schema(
        summary="List acceptances (验收)",
        description="Each pilot's acceptance: the prefecture's application, the province's reviews and any "
        "rectification. A prefecture office sees its own pilots'. `as_of` gives the state as of a past date. "
        "No acceptance result is in our sources: every one not recorded by the province here is demo data, "
        "flagged `is_demo` with its `demo_label`.", tags=_TAGS),
    retrieve=extend_schema(summary="Show an acceptance", responses={200: AcceptanceDetailSerializer}, tags=_TAGS),
    create=extend_schema(
        summary="Apply for a pilot's acceptance (prefecture)",
        description="After construction ends (its `construction_end`), with the pilot's self-assessment; add "
        "evidence through its documents. One open acceptance per pilot.",
        request=AcceptanceCreateSerializer, responses={201: AcceptanceDetailSerializer, **IDEMPOTENCY_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER], tags=_TAGS),
)
class AcceptanceViewSet(_LifecycleViewSetMixin, IdempotentPostMixin, ScopedViewSetMixin, mixins.ListModelMixin,
                        mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Acceptance.objects.select_related("pilot__prefecture")  # pilot{}
    serializer_class = AcceptanceSerializer
    detail_serializer_class = AcceptanceDetailSerializer
    filterset_class = AcceptanceFilterSet
    ordering_fields = ["created_at", "rectify_by"]
    ordering = ["-created_at", "-id"]
    document_owner = "acceptance"
    access_rules = {
        "create": _OFFICE, "rectification": _OFFICE, "documents": _OFFICE,
        "review": _PROVINCE, "revoke": _PROVINCE,
    }

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            queryset = queryset.prefetch_related(
                Prefetch("reviews", queryset=AcceptanceReview.objects.select_related("recorded_by")),
                Prefetch("steps", queryset=AcceptanceStep.objects.select_related("actor")),
                Prefetch("documents", queryset=LifecycleDocument.objects.select_related("uploaded_by")),
            )
        return queryset

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def create(self, request, *args, **kwargs):
        data = self._params(AcceptanceCreateSerializer)
        acceptance = acceptance_apply(pilot=data["pilot"], self_assessment=data["self_assessment"],
                                      context=self._context())
        return self._respond(acceptance, status.HTTP_201_CREATED)

    @extend_schema(summary="Record an acceptance review (province)",
                   description="Experts, a score per criterion within its range, findings (required unless "
                   "passed) and the conclusion: `passed` (the pilot becomes accepted), `failed` (failed "
                   "acceptance) or `rectify` with `rectify_by` (整改; the prefecture reports back, then one "
                   "re-review: passed or failed).",
                   request=AcceptanceReviewRequestSerializer, parameters=_STEP_PARAMETERS,
                   examples=[_ACCEPTANCE_REVIEW_EXAMPLE],
                   responses=_step_responses(AcceptanceDetailSerializer, "applied", "resubmitted"), tags=_TAGS)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        acceptance = self.get_object()
        data = self._params(AcceptanceReviewRequestSerializer)
        acceptance = acceptance_review(acceptance_id=acceptance.pk,
                                       expected_version=expected_version(request, acceptance),
                                       context=self._context(), **data)
        return self._respond(acceptance)

    @extend_schema(summary="Report the rectification done (prefecture)", request=RectificationSerializer,
                   description="For an acceptance to rectify; the province then re-reviews it.",
                   parameters=_STEP_PARAMETERS, responses=_step_responses(AcceptanceDetailSerializer, "rectifying"),
                   tags=_TAGS)
    @action(detail=True, methods=["post"])
    def rectification(self, request, pk=None):
        acceptance = self.get_object()
        data = self._params(RectificationSerializer)
        acceptance = acceptance_rectification_submit(acceptance_id=acceptance.pk,
                                                     expected_version=expected_version(request, acceptance),
                                                     context=self._context(), **data)
        return self._respond(acceptance)

    @extend_schema(summary="Revoke the designation after a failed acceptance (province)", request=RevokeSerializer,
                   description="The pilot becomes revoked, with the reason in its history.",
                   parameters=_STEP_PARAMETERS, responses=_step_responses(AcceptanceDetailSerializer, "failed"),
                   tags=_TAGS)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        acceptance = self.get_object()
        data = self._params(RevokeSerializer)
        acceptance = acceptance_revoke(acceptance_id=acceptance.pk,
                                       expected_version=expected_version(request, acceptance),
                                       context=self._context(), **data)
        return self._respond(acceptance)

    @extend_schema(methods=["GET"], summary="List an acceptance's documents", request=None,
                   responses={200: DocumentSerializer(many=True)}, tags=_TAGS)
    @extend_schema(methods=["POST"], summary="Add evidence to an acceptance",
                   description=_DOCUMENT_UPLOAD_DESCRIPTION + " An acceptance takes documents while applied or "
                   "rectifying.",
                   request={"multipart/form-data": DocumentUploadSerializer}, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: DocumentSerializer, 409: OpenApiResponse(ErrorSerializer, description="Under "
                              "review or decided."), **IDEMPOTENCY_RESPONSES}, tags=_TAGS)
    @action(detail=True, methods=["get", "post"], parser_classes=[MultiPartParser], pagination_class=None,
            filter_backends=[])
    def documents(self, request, pk=None):
        return self._documents(request)

    @extend_schema(summary="Download an acceptance's document", responses=_DOCUMENT_DOWNLOAD, tags=_TAGS)
    @action(detail=True, methods=["get"], url_path=r"documents/(?P<document_id>[0-9]+)", filter_backends=[],
            pagination_class=None)
    def document(self, request, pk=None, document_id=None):
        return self._document(document_id)


