"""Rate limits: per token (or signed-in user) and per client address, rates from the environment."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from smartcity.models import ApiToken


class _ConfiguredRateThrottle(SimpleRateThrottle):
    def get_rate(self):
        return settings.API_RATE_LIMITS.get(self.scope)


class TokenRateThrottle(_ConfiguredRateThrottle):
    """``API_RATE_PER_TOKEN`` requests per token; a browser session counts as its user's."""

    scope = "token"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"t{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"u{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AddressRateThrottle(_ConfiguredRateThrottle):
    """``API_RATE_PER_IP`` requests per client address, signed in or not."""

    scope = "ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
