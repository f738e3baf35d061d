"""Base viewsets: every API queryset goes through ``visible_to(actor)``, so scoping cannot be forgotten."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from rest_framework import viewsets

from smartcity.auth.access import actor_for


# An id in a URL is ASCII digits. Python's ``\d`` and ``int()`` also take full-width and other Unicode digits,
# so DRF's default ``[^/.]+`` let ``/reports/１/`` reach report 1 under a second name.
ID_PATTERN = "[0-9]+"


class AsciiIdMixin:
    """The router builds every detail route (and its actions) of this viewset with an ASCII-digits id."""

    lookup_value_regex = ID_PATTERN


class ScopedViewSetMixin(AsciiIdMixin):
    """Narrows ``queryset`` to what the caller may see; objects outside it answer 404."""

    def get_queryset(self):
        queryset = super().get_queryset()
        if not hasattr(queryset, "visible_to"):
            raise ImproperlyConfigured(
                f"{type(self).__name__}.queryset ({queryset.model.__name__}) has no visible_to(actor): "
                "every model served by the API must declare who may see it."
            )
        return queryset.visible_to(actor_for(self.request))


class ScopedReadOnlyViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass
