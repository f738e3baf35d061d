from __future__ import annotations

from collections import OrderedDict

from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response


class StrictPageNumberPagination(PageNumberPagination):
    """Page-number pagination with a total count; an impossible page size is an error, not a silent clamp."""

    page_size_query_param = "page_size"
    page_size_query_description = format_lazy(_("Number of results per page (1–{max})."), max=settings.API_MAX_PAGE_SIZE)
    max_page_size = settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            value = int(raw)
        except ValueError:
            raise ValidationError({"page_size": [_("A whole number is required.")]}, code="invalid") from None
        if not 1 <= value <= self.max_page_size:
            raise ValidationError(
                {"page_size": [_("Must be between 1 and %(max)s.") % {"max": self.max_page_size}]}, code="out_of_range"
            )
        return value

    def get_page_number(self, request, paginator):
        """A page is a whole number from 1 (or ``last``): ``page=0`` or ``page=abc`` is a 400 naming ``page``.

        A page past the last one stays a 404, as DRF answers it.
        """
        raw = super().get_page_number(request, paginator)
        if raw in self.last_page_strings or (isinstance(raw, int) and raw >= 1):
            return raw
        text = str(raw)
        if not (text.isascii() and text.isdigit()) or not text.strip("0"):
            raise ValidationError({self.page_query_param: [_("A whole number from 1 is required.")]}, code="invalid")
        return text

    def get_paginated_response(self, data):
        return Response(
            OrderedDict(
                [
                    ("count", self.page.paginator.count),
                    ("next", self.get_next_link()),
                    ("previous", self.get_previous_link()),
                    ("results", data),
                ]
            )
        )
