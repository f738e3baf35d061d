"""Fields and brief serializers shared by the pilots API modules."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from pilots.labels import DEMO_LABEL
from pilots.models import Pilot
from pilots.periods import InvalidPeriod, Period
from smartcity.api.serializers import FieldsBuiltOnce
from smartcity.auth.access import actor_for
from tasks_app.models import SubTask


@extend_schema_field(serializers.DictField(child=serializers.CharField(), allow_null=True))
class DemoLabelField(serializers.Field):
    """The label every view must show beside demo data (``{"zh": …, "en": …}``); null on real data."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "Present only on demo data: the label to show beside it.")
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, instance):
        return DEMO_LABEL if instance.is_demo else None

class PilotBriefSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    prefecture = serializers.CharField(source="prefecture.code", read_only=True)

    class Meta:
        model = Pilot
        fields = ["id", "code", "name_zh", "name_en", "prefecture", "is_demo"]
        read_only_fields = fields


class SubTaskBriefSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    task = serializers.CharField(source="task.code", read_only=True)

    class Meta:
        model = SubTask
        fields = ["id", "code", "name_zh", "name_en", "task"]
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


class PeriodFilter(django_filters.CharFilter):
    """A quarter such as ``2021Q3`` in a query, the one period filter of every list.

    ``lookup_expr="exact"`` (the default) keeps the rows of that quarter (``field_name`` holds its text); ``gte`` and
    ``lte`` compare the quarter's first day with ``start_field``. A malformed quarter is a 400 on the parameter
    with the code ``invalid_period``, as in a request body (``PeriodField``); the spec says so beside each.
    """

    def __init__(self, *, start_field: str = "period_start", **kwargs):
        self.start_field = start_field
        kwargs["help_text"] = (kwargs.get("help_text") or "A quarter, e.g. 2021Q3.") + (
            " A malformed quarter is a 400 with the code `invalid_period`.")
        super().__init__(**kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        try:
            period = Period.parse(value)
        except InvalidPeriod as exc:
            raise ValidationError({self.field_name: [str(exc)]}, code="invalid_period") from None
        if self.lookup_expr == "exact":
            return qs.filter(**{self.field_name: str(period)})
        return qs.filter(**{f"{self.start_field}__{self.lookup_expr}": period.start})


class IdRelatedField(serializers.PrimaryKeyRelatedField):
    """An object by its id, a whole number: 1.5 is refused, not rounded down to object 1 by the database."""

    def __init__(self, **kwargs):
        kwargs.setdefault("pk_field", serializers.IntegerField())
        super().__init__(**kwargs)


@extend_schema_field(serializers.IntegerField())
class VisiblePilotField(IdRelatedField):
    """A pilot id the caller may see; any other id does not exist."""

    def get_queryset(self):
        return Pilot.objects.visible_to(actor_for(self.context["request"])).select_related("programme", "prefecture")


class PartialUpdateMixin:
    """Every field optional: the serializer of a PATCH, which changes only what it names."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
