"""Accounts on the domain's side: which organisation and role a person holds.

``oidc_membership_assign`` is the single sign-on's resolver (``settings.OIDC_MEMBERSHIP_RESOLVER``): at every
sign-in the provider's claims name the person's organisation (its ``code``) and role, and the membership is
set to them, audited when it changes. A claim naming no organisation, a role that does not exist or is not
held in that kind of organisation, or an integrator (API only) is refused, and nothing is written.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from pilots.models import Membership, Organisation
from smartcity.audit import ChangeContext, audit_record, snapshot
from smartcity.auth.oidc import SsoRefused


def oidc_membership_assign(*, user, organisation, role) -> Membership:
    if not organisation or not isinstance(organisation, str):
        raise SsoRefused(_("The identity provider did not say which organisation you belong to."))
    if not role or not isinstance(role, str):
        raise SsoRefused(_("The identity provider did not say which role you hold."))
    office = Organisation.objects.filter(code=organisation).first()
    if office is None:
        raise SsoRefused(_("The organisation “%(code)s” is not known to this service; ask the provincial "
                           "office to add it.") % {"code": organisation})
    if role not in Membership.Role.values:
        raise SsoRefused(_("The role “%(role)s” does not exist in this service.") % {"role": role})
    if office.kind == Organisation.Kind.INTEGRATOR or role == Membership.Role.INTEGRATOR:
        raise SsoRefused(_("Integrator accounts use the API with a token; they do not sign in here."))
    if role not in Membership.ROLES_BY_KIND[office.kind]:
        raise SsoRefused(_("The role “%(role)s” is not held in this kind of organisation.") % {"role": role})
    context = ChangeContext.system()
    with transaction.atomic():
        membership = Membership.objects.select_for_update().filter(user=user).first()
        if membership is None:
            membership = Membership(user=user, organisation=office, role=role)
            membership.full_clean()
            membership.save()
            audit_record(context=context, action="create", instance=membership, before=None,
                         after=snapshot(membership))
        elif (membership.organisation_id, membership.role) != (office.pk, role):
            before = snapshot(membership)
            membership.organisation, membership.role = office, role
            membership.full_clean()
            membership.save(update_fields=["organisation", "role"])
            audit_record(context=context, action="update", instance=membership, before=before,
                         after=snapshot(membership))
    return membership
