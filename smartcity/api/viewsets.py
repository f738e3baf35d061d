"""Base viewsets: every API queryset goes through ``visible_to(actor)``, so scoping cannot be forgotten."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from rest_framework import viewsets

from smartcity.auth.access import actor_for


class ScopedViewSetMixin:
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
