from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from pilots.models import Pilot, Prefecture

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
