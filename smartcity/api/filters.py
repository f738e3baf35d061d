from __future__ import annotations

import django_filters
from django import forms
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter, SearchFilter

# Parameters every list understands besides its filters.
GENERIC_PARAMS = {"page", "page_size", "format"}


class WholeNumberFilter(django_filters.NumberFilter):
    """An id or a year: a whole number within 64 bits. ``1.5`` is a 400, not rounded down to 1 by the database,
    and ``2**63`` a 400, not an overflow in the database driver."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", -(2**63))
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter, plus: a query parameter the endpoint does not know is a 400, not silently ignored.

    A typo such as ``?prefecure=510100`` would otherwise return every pilot and look like an answer.
    """

    def filter_queryset(self, request, queryset, view):
        if getattr(view, "action", None) == "list" or request.method == "GET":
            self._reject_unknown_params(request, queryset, view)
        return super().filter_queryset(request, queryset, view)

    def _reject_unknown_params(self, request, queryset, view) -> None:
        allowed = set(GENERIC_PARAMS)
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            allowed |= set(filterset_class.base_filters)
        if getattr(view, "search_fields", None):
            allowed.add("search")
        if getattr(view, "ordering_fields", None):
            allowed.add("ordering")
        allowed |= set(getattr(view, "extra_query_params", ()))
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise ValidationError(
                {
                    name: [_("Unknown query parameter. Allowed: %(allowed)s.") % {"allowed": ", ".join(sorted(allowed))}]
                    for name in unknown
                },
                code="unknown_parameter",
            )


class StrictOrderingFilter(OrderingFilter):
    """An ``ordering`` the endpoint does not offer is a 400 naming the allowed fields, not silently ignored."""

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if params:
            requested = [term.strip() for term in params.split(",") if term.strip()]
            valid = {name for name, _label in self.get_valid_fields(queryset, view, {"request": request})}
            invalid = [term for term in requested if term.lstrip("-") not in valid]
            if invalid:
                raise ValidationError(
                    {self.ordering_param: [_("Cannot order by %(fields)s. Allowed: %(allowed)s.") % {
                        "fields": ", ".join(invalid), "allowed": ", ".join(sorted(valid))}]},
                    code="invalid_ordering",
                )
        return super().get_ordering(request, queryset, view)


class StrictSearchFilter(SearchFilter):
    """``search`` appears in the spec only where the view searches (elsewhere it is an unknown parameter)."""

    def get_schema_operation_parameters(self, view):
        return super().get_schema_operation_parameters(view) if getattr(view, "search_fields", None) else []
