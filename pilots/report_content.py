"""What an office files on a report, and what each figure must be: one definition for every door.

The API's report serializers extend ``ReportContentSerializer``; the spreadsheet import
(``pilots.services.bulk``) checks each row's cells with it, so a figure is refused for the same reason,
in the same words, whichever way it was filed. The rules that need more than one field or the stored
reports (``report_rules_check``) are the service's.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from pilots.models import ProgressReport


class PlainDecimalField(serializers.DecimalField):
    """A decimal as both databases store it: -0 is 0 (PostgreSQL's numeric has no negative zero)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        return value + 0 if value is not None and value.is_zero() else value


class ReportContentSerializer(serializers.Serializer):
    """The figures an office files for one pilot, sub-task and quarter."""

    percent_complete = PlainDecimalField(max_digits=4, decimal_places=1, min_value=0, max_value=100)
    status = serializers.ChoiceField(choices=ProgressReport.Status.choices)
    narrative = serializers.CharField(required=False, allow_blank=True, max_length=20000, default="")
    kpi_actual = PlainDecimalField(max_digits=16, decimal_places=2, required=False, allow_null=True,
                                          default=None)
    investment_to_date = PlainDecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True, default=None,
        help_text=_("Investment so far, in 万元 (ten thousand yuan)."),
    )
    decrease_reason = serializers.CharField(
        required=False, allow_blank=True, max_length=5000, default="",
        help_text=_("Required when percent_complete is lower than the last approved report."),
    )


__all__ = ["PlainDecimalField", "ReportContentSerializer"]
