"""Recording changes: one function that every write path (admin, API services, commands) calls."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.core import serializers
from django.db import models

from smartcity.models import ApiToken, AuditEntry
from smartcity.request_ids import current_request_id
from smartcity.timefmt import LocalTimeJSONEncoder


@dataclass(frozen=True)
class ChangeContext:
    """Who is making a change, and through which door."""

    user: Any  # a User, or None for jobs
    via: str
    token_prefix: str = ""

    @property
    def acting_user(self):
        """The signed-in user who makes the change, to record as its author; None for a job or a command."""
        return self.user if getattr(self.user, "is_authenticated", False) else None

    @classmethod
    def from_request(cls, request, *, via: str | None = None) -> ChangeContext:
        token = getattr(request, "auth", None)
        if isinstance(token, ApiToken):
            return cls(user=request.user, via=AuditEntry.Via.API_TOKEN, token_prefix=token.prefix)
        return cls(user=request.user, via=via or AuditEntry.Via.SESSION)

    @classmethod
    def system(cls) -> ChangeContext:
        return cls(user=None, via=AuditEntry.Via.SYSTEM)

    @classmethod
    def command(cls) -> ChangeContext:
        return cls(user=None, via=AuditEntry.Via.COMMAND)


def snapshot(instance: models.Model) -> dict[str, Any]:
    """The instance's concrete and many-to-many fields as plain JSON values.

    A model lists fields that must never reach the audit trail (secrets, even hashed) in ``audit_exclude``.
    """
    fields = serializers.serialize("python", [instance])[0]["fields"]
    for name in getattr(type(instance), "audit_exclude", ()):
        fields.pop(name, None)
    return json.loads(json.dumps(fields, cls=LocalTimeJSONEncoder))  # times as the API writes them


def create_audited(*, instance: models.Model, context: ChangeContext) -> models.Model:
    """Validate, insert and audit one new row."""
    instance.full_clean()
    instance.save(force_insert=True)
    audit_record(context=context, action="create", instance=instance, before=None, after=snapshot(instance))
    return instance


def audit_record(
    *,
    context: ChangeContext,
    action: str,
    instance: models.Model,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditEntry:
    user = context.acting_user
    request_id = current_request_id.get()
    return AuditEntry.objects.create(
        actor=user,
        actor_username=user.get_username() if user else "",
        via=context.via,
        token_prefix=context.token_prefix,
        request_id="" if request_id == "-" else request_id,
        action=action,
        object_type=instance._meta.label_lower,
        object_id=str(instance.pk),
        object_repr=str(instance)[:200],
        before=before,
        after=after,
    )
