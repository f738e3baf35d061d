from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from smartcity.models import ApiToken
from smartcity.models.tokens import hash_token_key

# last_used_at is for people deciding which tokens to revoke; minute precision is plenty, and it
# keeps a busy integrator from turning every read into a write.
LAST_USED_PRECISION = timedelta(minutes=1)


class BearerTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <key>`` with an ``ApiToken`` key."""

    keyword = b"bearer"

    def authenticate(self, request):
        try:
            parts = get_authorization_header(request).split()
        except UnicodeEncodeError:
            raise AuthenticationFailed(_("Invalid token."), code="token_invalid") from None
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(
                _("Malformed Authorization header: expected 'Bearer <token>'."), code="token_malformed"
            )
        try:
            raw_key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed(_("Invalid token."), code="token_invalid") from None

        token = (
            ApiToken.objects.select_related("user__membership__organisation")
            .filter(key_hash=hash_token_key(raw_key))
            .first()
        )
        if token is None:
            raise AuthenticationFailed(_("Invalid token."), code="token_invalid")
        now = timezone.now()
        if token.revoked_at is not None:
            raise AuthenticationFailed(_("This token has been revoked."), code="token_revoked")
        if token.expires_at <= now:
            raise AuthenticationFailed(_("This token has expired."), code="token_expired")
        if not token.user.is_active:
            raise AuthenticationFailed(_("This account is disabled."), code="account_disabled")
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
