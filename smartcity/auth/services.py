"""Writes on API tokens."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from smartcity.audit import ChangeContext, audit_record, snapshot
from smartcity.models import ApiToken
from smartcity.models.tokens import hash_token_key

KEY_PREFIX = "sct_"


def token_issue(*, user, name: str = "", can_write: bool, ttl_days: int | None = None,
                context: ChangeContext) -> tuple[ApiToken, str]:
    """Create a token and return it with its key; the key is not stored and cannot be shown again."""
    ttl_days = ttl_days or settings.API_TOKEN_DEFAULT_TTL_DAYS
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            key_hash=hash_token_key(raw_key),
            prefix=raw_key[: len(KEY_PREFIX) + 8],
            can_write=can_write,
            expires_at=timezone.now() + timedelta(days=ttl_days),
        )
        audit_record(context=context, action="create", instance=token, before=None, after=snapshot(token))
    return token, raw_key


def token_revoke(*, token: ApiToken, context: ChangeContext) -> ApiToken:
    """Revoke a token; revoking twice is harmless and keeps the first revocation time."""
    with transaction.atomic():
        before = snapshot(token)
        changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        token.refresh_from_db()
        if changed:
            audit_record(context=context, action="revoke", instance=token, before=before, after=snapshot(token))
    return token
