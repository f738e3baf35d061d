from __future__ import annotations

import re
from collections.abc import Iterable

import django_filters
from django import forms
from django.db.models import Q
from django_filters.constants import EMPTY_VALUES
from django.utils.translation import gettext as _
from django.utils.translation import override
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.filters import OrderingFilter, SearchFilter

from smartcity.auth.access import actor_for

# Parameters every list understands besides its filters.
GENERIC_PARAMS = {"page", "page_size", "format"}


def unknown_param_errors(query_params: Iterable[str], allowed: Iterable[str]) -> dict[str, list[ErrorDetail]]:
    """The one rule for query parameters an endpoint does not know: each is an error of its own, with the code
    ``unknown_parameter`` and the parameters the endpoint does know (none: ``{}``).

    A typo such as ``?prefecure=510100`` would otherwise return every pilot and look like an answer. A view that
    checks its other parameters by hand adds these errors to its own, so that one 400 names every bad one.
    """
    allowed = set(allowed)
    message = _("Unknown query parameter. Allowed: %(allowed)s.") % {"allowed": ", ".join(sorted(allowed)) or "-"}
    return {name: [ErrorDetail(message, code="unknown_parameter")] for name in sorted(set(query_params) - allowed)}


def reject_unknown_params(query_params: Iterable[str], allowed: Iterable[str]) -> None:
    """A query parameter the endpoint does not know is a 400, not silently ignored (``unknown_param_errors``)."""
    errors = unknown_param_errors(query_params, allowed)
    if errors:
        raise ValidationError(errors, code="unknown_parameter")


class WholeNumberFilter(django_filters.NumberFilter):
    """An id or a year: a whole number within 64 bits. ``1.5`` is a 400, not rounded down to 1 by the database,
    and ``2**63`` a 400, not an overflow in the database driver."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", -(2**63))
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter, plus: a query parameter the endpoint does not know is a 400 (``reject_unknown_params``)."""

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
        reject_unknown_params(request.query_params, allowed)


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


# --- Naming a catalog or registry object in a filter ---------------------------------------------------

ASCII_ID = re.compile(r"[0-9]{1,18}")  # an id as a URL writes it: ASCII digits, within 64 bits


def resolve_named(queryset, value: str, *, code_field: str = "code") -> list[int]:
    """The ids of the objects ``value`` names: those whose code it is, or else the one whose id it is.

    A code wins over an id (a six-digit county code is never read as an id). Codes are unique within a
    programme, so one code can name an object in each programme. One query whatever the size of the list.
    """
    condition = Q(**{code_field: value})
    if ASCII_ID.fullmatch(value):
        condition |= Q(pk=int(value))
    matches = list(queryset.filter(condition).values_list("pk", code_field))
    by_code = [pk for pk, code in matches if code == value]
    return by_code or [pk for pk, _code in matches]


class NamedObjectFilter(django_filters.CharFilter):
    """A filter on an object of the catalog or the registry, named by its code or by its id.

    ``?subtask=T4.1`` and ``?subtask=7`` (its id) are the same filter. A name that names nothing the
    caller can see is a 400 on the parameter, never an empty 200 that looks like an answer. ``field_name``
    is the path to the object (``pilot__prefecture``); ``model`` the object's model, given by the domain.
    """

    def __init__(self, *, model, example: str, code_field: str = "code", where: dict | None = None, **kwargs):
        self.named_model, self.code_field, self.where = model, code_field, where or {}
        with override("en"):
            noun = str(model._meta.verbose_name)
        kwargs["help_text"] = (kwargs.get("help_text") or f"The {noun}: its code (e.g. `{example}`) or its id.") + (
            " A name that names nothing you can see is a 400.")
        super().__init__(**kwargs)

    def candidates(self):
        queryset = self.named_model._default_manager.all()
        request = getattr(self.parent, "request", None)
        if request is not None and hasattr(queryset, "visible_to"):
            queryset = queryset.visible_to(actor_for(request))
        return queryset

    def filter(self, qs, value):
        if value in EMPTY_VALUES:
            return qs
        ids = resolve_named(self.candidates(), value, code_field=self.code_field)
        if not ids:
            param = next((name for name, item in self.parent.filters.items() if item is self), self.field_name)
            raise ValidationError(
                {param: [_("No %(noun)s has the code or id “%(value)s”.") % {"noun": self.named_model._meta.verbose_name, "value": value}]},
                code="unknown_object",
            )
        return self.apply(qs, ids)

    def apply(self, qs, ids: list[int]):
        qs = qs.filter(**{f"{self.field_name}__in": ids}, **self.where)
        return qs.distinct() if self.distinct else qs
