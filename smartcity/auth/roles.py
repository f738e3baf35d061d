"""The vocabulary of access: the roles a member holds and the kinds of organisation they belong to.

Plain choices, so that the platform's access policy needs no domain model. The domain stores these values
(``pilots.models.Membership.role``, ``pilots.models.Organisation.kind``) and says which roles each kind
offers; the stored values never change.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    REPORTER = "reporter", _("reporter")
    REVIEWER = "reviewer", _("reviewer")
    VIEWER = "viewer", _("viewer")
    ADMIN = "admin", _("administrator")
    INTEGRATOR = "integrator", _("integrator (read-only machine client)")


class OrganisationKind(models.TextChoices):
    PROVINCE = "province", _("provincial office")
    PREFECTURE = "prefecture", _("prefecture office")
    DEPARTMENT = "department", _("provincial department")
    INTEGRATOR = "integrator", _("integrating system")


# The province's reviewers and administrators: they read across the province and decide on what offices file.
PROVINCE_ROLES = frozenset({Role.REVIEWER, Role.ADMIN})

# Roles of machine clients: they call the API with a token and are refused on every session page (dashboard,
# sign-in, admin), which are for people.
API_ONLY_ROLES = frozenset({Role.INTEGRATOR})
