"""Where a user belongs: the domain's answer to the access policy's question (``smartcity.auth.access``).

Registered in ``PilotsConfig.ready()``, so that the platform reads a member's role, organisation and its
prefecture or department without importing the registry.
"""

from __future__ import annotations

from pilots.models import Membership
from smartcity.auth.access import Placement


def user_placement(user) -> Placement | None:
    """The user's role in their organisation; None for a user who belongs to none."""
    try:
        membership = user.membership
    except Membership.DoesNotExist:
        return None
    organisation = membership.organisation
    return Placement(
        role=membership.role,
        organisation_kind=organisation.kind,
        organisation_id=organisation.pk,
        prefecture_id=organisation.prefecture_id,
        department_id=organisation.department_id,
    )


__all__ = ["user_placement"]
