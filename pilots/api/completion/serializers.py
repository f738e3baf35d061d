"""The completion API's output: these serializers are its one definition.

They make the OpenAPI schema, and ``rendering.renderer`` builds from their fields the plan the views
render rows with, so a field added here is in the schema and in the output. The rows are the
``.values()`` dicts (and the small objects of ``PilotCompletion``) that ``pilots.selectors.completion``
reads, so a ``SerializerMethodField`` or a ``source="*"`` field reads its row as a mapping.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from pilots.api.common import DEMO_LABEL, PilotBriefSerializer, SubTaskBriefSerializer
from pilots.api.registry import PrefectureSerializer
from pilots.models import CompletionRollup, ForecastStatus, Pilot, ReportingRate, SubtaskCompletion
from pilots.selectors.completion import PilotCompletion
from tasks_app.api.serializers import DepartmentBriefSerializer, TaskBriefSerializer

Scope = CompletionRollup.Scope


@extend_schema_field(serializers.DictField(child=serializers.CharField(), allow_null=True))
class IncludesDemoLabelField(serializers.Field):
    """The demo label when a figure rests on demo data (a demo pilot or a demo report); null otherwise."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "Present when the figure includes demo data: the label to show beside it.")
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, row: dict):
        return DEMO_LABEL if row["includes_demo"] else None


class CompletionFiguresSerializer(serializers.ModelSerializer):
    """The figures every rollup row has."""

    demo_label = IncludesDemoLabelField()

    class Meta:
        model = CompletionRollup
        fields = ["as_of", "real_only", "computed_at", "completion", "planned", "variance", "schedule_status",
                  "pilot_count", "demo_pilot_count", "no_report_count", "behind_count", "critical_count",
                  "stalled_count", "ahead_of_plan_count", "includes_demo", "demo_label"]
        read_only_fields = fields
        extra_kwargs = {
            "completion": {"help_text": "Percent complete (0–100): a weighted mean over sub-tasks for a pilot, "
                                        "an unweighted mean over pilots for an area. Null when no pilot counts."},
            "planned": {"help_text": "Planned percent on the as-of date, from the milestone plans; null without "
                                     "any plan."},
            "variance": {"help_text": "Actual minus planned, in percentage points, over the sub-tasks with a plan."},
            "no_report_count": {"help_text": "Pilot × sub-task pairs with no approved report (counted as 0)."},
            "behind_count": {"help_text": "Pilot × sub-task pairs behind plan."},
            "critical_count": {"help_text": "Pilot × sub-task pairs critically behind plan."},
            "stalled_count": {"help_text": "Pilot × sub-task pairs whose approved percent has stopped moving."},
            "ahead_of_plan_count": {"help_text": "Pilot × sub-task pairs implausibly far ahead of plan."},
        }


# A share (0–1, four places), rendered as a string like every decimal of this API.
_SHARE = serializers.DecimalField(max_digits=6, decimal_places=4, allow_null=True)


# A count of pilots; null on figures computed before demo pilots were counted apart (until the next recompute).
_COUNT = serializers.IntegerField(min_value=0, allow_null=True)


def _real(count: int | None, demo: int | None) -> int | None:
    """The real pilots among ``count``, of which ``demo`` are demo pilots."""
    return None if count is None or demo is None else count - demo


def _share(part: int | None, whole: int | None) -> str | None:
    if part is None or not whole:
        return None
    return str((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


class ProvinceCompletionSerializer(CompletionFiguresSerializer):
    programme = serializers.SlugRelatedField(slug_field="code", read_only=True)
    goal_deadline = serializers.DateField(source="programme.goal_deadline", read_only=True)
    designated_real = serializers.SerializerMethodField(help_text="Real (not demo) pilots among designated_count.")
    designated_demo = serializers.SerializerMethodField(help_text="Demo pilots among designated_count (0 with "
                                                                  "real_only); never counted towards the goal.")
    accepted_real = serializers.SerializerMethodField(help_text="Real (not demo) pilots among accepted_count.")
    accepted_demo = serializers.SerializerMethodField(help_text="Demo pilots among accepted_count.")
    designated_share = serializers.SerializerMethodField(help_text="Goal attainment: designated_real / goal (demo "
                                                                   "pilots never count towards the goal).")
    accepted_share = serializers.SerializerMethodField(help_text="Goal attainment: accepted_real / goal.")

    class Meta(CompletionFiguresSerializer.Meta):
        fields = ["programme", *CompletionFiguresSerializer.Meta.fields, "projected_complete_count",
                  "designated_count", "accepted_count", "designated_real", "designated_demo", "accepted_real",
                  "accepted_demo", "goal", "goal_deadline", "designated_share", "accepted_share"]
        read_only_fields = fields
        extra_kwargs = {
            **CompletionFiguresSerializer.Meta.extra_kwargs,
            "projected_complete_count": {"help_text": "Pilots projected, on their trend, to be complete by the "
                                                      "goal deadline."},
            "designated_count": {"help_text": "Pilots designated, under construction or accepted on the as-of "
                                              "date (not revoked, not failed); demo pilots included unless "
                                              "real_only (designated_real + designated_demo)."},
            "accepted_count": {"help_text": "Pilots accepted (验收) by the as-of date; demo pilots included unless "
                                            "real_only (accepted_real + accepted_demo)."},
            "goal": {"help_text": "The programme's goal: number of pilots."},
        }

    @extend_schema_field(_COUNT)
    def get_designated_real(self, row: dict):
        return _real(row["designated_count"], row["designated_demo_count"])

    @extend_schema_field(_COUNT)
    def get_designated_demo(self, row: dict):
        return row["designated_demo_count"]

    @extend_schema_field(_COUNT)
    def get_accepted_real(self, row: dict):
        return _real(row["accepted_count"], row["accepted_demo_count"])

    @extend_schema_field(_COUNT)
    def get_accepted_demo(self, row: dict):
        return row["accepted_demo_count"]

    @extend_schema_field(_SHARE)
    def get_designated_share(self, row: dict):
        return _share(_real(row["designated_count"], row["designated_demo_count"]), row["goal"])

    @extend_schema_field(_SHARE)
    def get_accepted_share(self, row: dict):
        return _share(_real(row["accepted_count"], row["accepted_demo_count"]), row["goal"])


class PrefectureCompletionSerializer(CompletionFiguresSerializer):
    prefecture = PrefectureSerializer()

    class Meta(CompletionFiguresSerializer.Meta):
        fields = ["prefecture", *CompletionFiguresSerializer.Meta.fields]
        read_only_fields = fields


class TaskCompletionSerializer(CompletionFiguresSerializer):
    task = TaskBriefSerializer()

    class Meta(CompletionFiguresSerializer.Meta):
        fields = ["task", *CompletionFiguresSerializer.Meta.fields]
        read_only_fields = fields


class DepartmentCompletionSerializer(CompletionFiguresSerializer):
    department = DepartmentBriefSerializer()

    class Meta(CompletionFiguresSerializer.Meta):
        fields = ["department", *CompletionFiguresSerializer.Meta.fields]
        read_only_fields = fields


class CompletionHistorySerializer(CompletionFiguresSerializer):
    scope = serializers.ChoiceField(choices=Scope.choices, read_only=True)
    id = serializers.IntegerField(source="scope_id", read_only=True, help_text="The scope object's id.")

    class Meta(CompletionFiguresSerializer.Meta):
        fields = ["scope", "id", *CompletionFiguresSerializer.Meta.fields]
        read_only_fields = fields


class SubtaskCompletionSerializer(serializers.ModelSerializer):
    subtask = SubTaskBriefSerializer()
    demo_label = IncludesDemoLabelField()

    class Meta:
        model = SubtaskCompletion
        fields = ["subtask", "as_of", "real_only", "computed_at", "approved_percent", "approved_period",
                  "pending_percent", "pending_period", "planned_percent", "variance", "schedule_status", "no_report",
                  "stalled", "ahead_of_plan", "includes_demo", "demo_label"]
        read_only_fields = fields
        extra_kwargs = {
            "approved_percent": {"help_text": "Percent of the latest approved report (by period, then revision); "
                                              "0 when there is none."},
            "pending_percent": {"help_text": "The latest figure submitted but not reviewed by the as-of date; "
                                             "never counted."},
            "stalled": {"help_text": "The approved percent, below 100, has not moved for the configured number of "
                                     "consecutive quarters."},
            "ahead_of_plan": {"help_text": "The approved percent is implausibly far above plan: worth a second look."},
        }


class BehindScheduleSerializer(SubtaskCompletionSerializer):
    """A pilot's sub-task behind plan: the pilot, then the sub-task's figures."""

    pilot = PilotBriefSerializer()

    class Meta(SubtaskCompletionSerializer.Meta):
        fields = ["pilot", *SubtaskCompletionSerializer.Meta.fields]
        read_only_fields = fields


class PilotTaskCompletionSerializer(serializers.Serializer):
    task = TaskBriefSerializer(source="rollup.task")
    figures = CompletionFiguresSerializer(source="rollup", help_text="The pilot's completion of this task.")
    subtasks = SubtaskCompletionSerializer(many=True)


class _BlankAsNullChoiceField(serializers.ChoiceField):
    """A stored blank (a row computed before the column existed) is shown as null, not as an unknown choice."""

    def to_representation(self, value):
        return None if value in ("", None) else super().to_representation(value)


class ForecastSerializer(serializers.Serializer):
    projected_completion_date = serializers.DateField(
        allow_null=True, source="rollup.projected_completion_date",
        help_text="When the least-squares trend of the approved history reaches 100% (when it reached 100% if "
                  "complete); null when `status` is anything but `projected` or `complete`.",
    )
    status = _BlankAsNullChoiceField(
        source="rollup.forecast_status", choices=ForecastStatus.choices, allow_null=True,
        help_text="`projected`: the trend reaches 100% on that date. `complete`: 100% reached. `behind_trend`: the "
                  "trend already passed 100% but the figure has not (no date: it is not done today). `not_rising`: a "
                  "flat or falling trend. `beyond_horizon`: more than 10 years away. `insufficient_data`: fewer than "
                  "two quarters with an approved report. Null on figures computed before this field existed.",
    )
    goal_deadline = serializers.DateField()
    complete_by_goal = serializers.SerializerMethodField(help_text="Projected complete by the goal deadline.")

    def get_complete_by_goal(self, value: PilotCompletion) -> bool:
        return _complete_by_goal(value.rollup["projected_completion_date"], value.goal_deadline)


def _complete_by_goal(projected: dt.date | None, goal_deadline: dt.date) -> bool:
    return projected is not None and projected <= goal_deadline


class PilotCompletionSerializer(serializers.Serializer):
    pilot = PilotBriefSerializer()
    state = serializers.ChoiceField(source="rollup.pilot_state", choices=Pilot.State.choices,
                                    help_text="The pilot's state on the as-of date.")
    figures = CompletionFiguresSerializer(source="rollup", help_text="The pilot's overall completion.")
    forecast = ForecastSerializer(source="*")
    tasks = PilotTaskCompletionSerializer(many=True)


class ReportingRateSerializer(serializers.ModelSerializer):
    prefecture = PrefectureSerializer(allow_null=True, help_text="Null on the province-wide row.")
    received_share = serializers.SerializerMethodField(help_text="received / expected.")
    on_time_share = serializers.SerializerMethodField(help_text="on_time / expected: the share received by the "
                                                                "deadline.")

    class Meta:
        model = ReportingRate
        fields = ["period", "deadline", "scope", "prefecture", "as_of", "real_only", "computed_at", "expected",
                  "received", "on_time", "received_share", "on_time_share"]
        read_only_fields = fields
        extra_kwargs = {
            "deadline": {"help_text": "Days after the quarter ends, moved to the next working day."},
            "expected": {"help_text": "Pilots whose construction window overlaps the quarter × sub-tasks."},
            "received": {"help_text": "Of those, reports first submitted by the as-of date."},
            "on_time": {"help_text": "Of those, reports first submitted by the deadline."},
        }

    @extend_schema_field(_SHARE)
    def get_received_share(self, row: dict):
        return _share(row["received"], row["expected"])

    @extend_schema_field(_SHARE)
    def get_on_time_share(self, row: dict):
        return _share(row["on_time"], row["expected"])
