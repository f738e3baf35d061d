from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from pilots.models import Pilot, Prefecture, ProgressReport, ReportTransition
from pilots.periods import InvalidPeriod, Period
from smartcity.auth.access import actor_for
from tasks_app.models import SubTask

DEMO_LABEL = {"zh": "演示数据,非正式认定", "en": "Demo data, not an official designation"}


class PrefectureSerializer(serializers.ModelSerializer):
    class Meta:
        model = Prefecture
        fields = ["id", "code", "name_zh", "name_en"]
        read_only_fields = fields


class PilotSerializer(serializers.ModelSerializer):
    programme = serializers.SlugRelatedField(slug_field="code", read_only=True)
    prefecture = PrefectureSerializer()
    state_label = serializers.CharField(source="get_state_display", read_only=True,
                                        help_text=_("The state in the request's language."))
    demo_label = serializers.SerializerMethodField(
        help_text=_("Present only on demo pilots: the label every view must show beside them.")
    )

    class Meta:
        model = Pilot
        fields = ["id", "code", "name_zh", "name_en", "programme", "prefecture", "batch_year", "state", "state_label",
                  "designated_on", "construction_start", "construction_end", "is_demo", "demo_label", "source_note"]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(child=serializers.CharField(), allow_null=True))
    def get_demo_label(self, pilot: Pilot):
        return DEMO_LABEL if pilot.is_demo else None


# --- Progress reports -------------------------------------------------------------------------


class PilotBriefSerializer(serializers.ModelSerializer):
    prefecture = serializers.CharField(source="prefecture.code", read_only=True)

    class Meta:
        model = Pilot
        fields = ["id", "code", "name_zh", "name_en", "prefecture", "is_demo"]
        read_only_fields = fields


class SubTaskBriefSerializer(serializers.ModelSerializer):
    task = serializers.CharField(source="task.code", read_only=True)

    class Meta:
        model = SubTask
        fields = ["id", "code", "name_zh", "name_en", "task"]
        read_only_fields = fields


class ReportTransitionSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None, read_only=True)

    class Meta:
        model = ReportTransition
        fields = ["action", "from_state", "to_state", "actor", "at", "comment"]
        read_only_fields = fields


class ReportSerializer(serializers.ModelSerializer):
    pilot = PilotBriefSerializer()
    subtask = SubTaskBriefSerializer()
    etag = serializers.CharField(read_only=True, help_text=_("Send back as If-Match to change this report."))
    demo_label = serializers.SerializerMethodField()

    class Meta:
        model = ProgressReport
        fields = ["id", "pilot", "subtask", "period", "revision", "is_current", "state", "percent_complete", "status",
                  "narrative", "kpi_actual", "investment_to_date", "decrease_reason", "correction_reason",
                  "review_comment", "submitted_at", "reviewed_at", "receipt_hash", "is_demo", "demo_label",
                  "created_at", "updated_at", "etag"]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(child=serializers.CharField(), allow_null=True))
    def get_demo_label(self, report: ProgressReport):
        return DEMO_LABEL if report.is_demo else None


class ReportDetailSerializer(ReportSerializer):
    transitions = ReportTransitionSerializer(many=True, read_only=True)

    class Meta(ReportSerializer.Meta):
        fields = [*ReportSerializer.Meta.fields, "transitions"]
        read_only_fields = fields


@extend_schema_field({"type": "string", "pattern": r"^\d{4}Q[1-4]$", "example": "2021Q3"})
class PeriodField(serializers.Field):
    """A quarter such as ``2021Q3``."""

    def to_internal_value(self, data) -> Period:
        try:
            return Period.parse(data)
        except InvalidPeriod as exc:
            raise serializers.ValidationError(str(exc), code="invalid_period") from None

    def to_representation(self, value) -> str:
        return str(value)


class ReportContentSerializer(serializers.Serializer):
    """The figures an office files for one pilot, sub-task and quarter."""

    percent_complete = serializers.DecimalField(max_digits=4, decimal_places=1, min_value=0, max_value=100)
    status = serializers.ChoiceField(choices=ProgressReport.Status.choices)
    narrative = serializers.CharField(required=False, allow_blank=True, max_length=20000, default="")
    kpi_actual = serializers.DecimalField(max_digits=16, decimal_places=2, required=False, allow_null=True,
                                          default=None)
    investment_to_date = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True, default=None,
        help_text=_("Investment so far, in 万元 (ten thousand yuan)."),
    )
    decrease_reason = serializers.CharField(
        required=False, allow_blank=True, max_length=5000, default="",
        help_text=_("Required when percent_complete is lower than the last approved report."),
    )


@extend_schema_field(serializers.IntegerField())
class VisiblePilotField(serializers.PrimaryKeyRelatedField):
    """A pilot id the caller may see; any other id does not exist."""

    def get_queryset(self):
        return Pilot.objects.visible_to(actor_for(self.context["request"])).select_related("programme")


class ReportCreateSerializer(ReportContentSerializer):
    pilot = VisiblePilotField(help_text=_("Pilot id."))
    subtask = serializers.PrimaryKeyRelatedField(queryset=SubTask.objects.select_related("task"),
                                                 help_text=_("Sub-task id."))
    period = PeriodField(help_text=_("Quarter, e.g. 2021Q3."))
    submit = serializers.BooleanField(
        required=False, default=False, write_only=True,
        help_text=_("true: submit for review at once (the response carries a receipt); false: keep as a draft."),
    )


class ReportUpdateSerializer(ReportContentSerializer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class ReviewSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class ReturnSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=5000, help_text=_("What the office should fix."))


class CorrectionSerializer(ReportUpdateSerializer):
    correction_reason = serializers.CharField(max_length=5000, help_text=_("Why the approved figures change."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["correction_reason"].required = True


class ReceiptSerializer(serializers.Serializer):
    report_id = serializers.IntegerField()
    revision = serializers.IntegerField()
    submitted_at = serializers.CharField(help_text=_("Server time of the submission (ISO 8601)."))
    sha256 = serializers.CharField(help_text=_("SHA-256 of `content`, hex."))
    content = serializers.CharField(help_text=_("The canonical JSON that was hashed: what was filed, and when."))


class SubmissionSerializer(serializers.Serializer):
    report = ReportDetailSerializer()
    receipt = ReceiptSerializer(allow_null=True, help_text=_("Present once the report is submitted."))
