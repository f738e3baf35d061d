"""Optimistic concurrency for versioned rows: the rule that the second of two editors is told."""

from __future__ import annotations

import re

from django.db import models
from django.db.models import F

# The ETag a VersionedModel issues, "<pk>.<version>", weak or not; ASCII digits only ("１.１" is no ETag
# we issued). A spreadsheet cell may hold it without its quotes.
_ETAG = re.compile(r'^\s*(?:W/)?(?P<quote>"?)(?P<pk>\d+)\.(?P<version>\d+)(?P=quote)\s*$', re.ASCII)


class StaleVersion(Exception):
    """The row changed since the caller read it (the API answers 412 Precondition Failed)."""

    def __init__(self, instance: models.Model):
        super().__init__(f"{instance._meta.label} {instance.pk} is at version {instance.version}")
        self.instance = instance


def parse_etag(text: str, *, quoted: bool = True) -> tuple[int, int] | None:
    """``(pk, version)`` from an ETag such as ``"42.3"``; None for anything else.

    ``quoted=False`` also accepts ``42.3`` without the quotes, as a spreadsheet cell may hold it.
    """
    match = _ETAG.match(str(text))
    if not match or (quoted and not match["quote"]):
        return None
    return int(match["pk"]), int(match["version"])


def lock_version(model: type[models.Model], pk, expected_version: int | None, *, queryset=None):
    """Lock the row for this transaction and check it is still the version the caller saw.

    ``expected_version=None`` skips the check (internal callers such as bulk import that hold the
    lock for their own reasons). Must run inside ``transaction.atomic()``.
    """
    # of=("self",): lock the row itself, not the pilot and catalog rows a select_related joins in,
    # which would make edits of unrelated reports wait for each other.
    instance = (queryset if queryset is not None else model._default_manager).select_for_update(
        of=("self",)
    ).get(pk=pk)
    if expected_version is not None and instance.version != expected_version:
        raise StaleVersion(instance)
    return instance


def bump_version(instance: models.Model, **changes) -> None:
    """Save ``changes`` and increment the version in one UPDATE, then refresh the instance."""
    type(instance)._default_manager.filter(pk=instance.pk).update(version=F("version") + 1, **changes)
    instance.refresh_from_db()
