"""Accounts on the domain's side: which organisation and role a person holds.

``oidc_membership_assign`` is the single sign-on's resolver (``settings.OIDC_MEMBERSHIP_RESOLVER``): at every
sign-in the provider's claims name the person's organisation (its ``code``) and role, and the membership is
set to them, audited when it changes. A claim naming no organisation, a role that does not exist or is not
held in that kind of organisation, or an integrator (API only) is refused, and nothing is written.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError

from pilots import task_names
from pilots.models import Membership, Organisation
from smartcity.audit import ChangeContext, audit_record, snapshot
from smartcity.auth.oidc import SsoRefused
from smartcity.auth.signins import province_reads


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


# --- People managed by the province ------------------------------------------------------------------------

INVITATION_TASK = task_names.SEND_INVITATION


def _person(user) -> dict:
    """What the audit trail keeps of an account: never its password hash."""
    return {"username": user.username, "email": user.email, "is_active": user.is_active}


def account_scope(queryset, actor):
    """The people an administrator manages: the province's administrators everyone with a membership; an
    office's administrator (when that role exists for offices) its own office's people; others no one."""
    if not actor.has_role(Membership.Role.ADMIN):
        return queryset.none()
    if province_reads(actor):
        return queryset.filter(membership__isnull=False)
    if actor.organisation_id is not None:
        return queryset.filter(membership__organisation_id=actor.organisation_id)
    return queryset.none()


def _placement(*, actor, organisation: Organisation, role: str) -> None:
    """A role the organisation's kind holds, in an organisation within the administrator's reach."""
    if not province_reads(actor) and organisation.pk != actor.organisation_id:
        raise ValidationError({"organisation": [_("This organisation is outside your reach.")]})
    if role not in Membership.Role.values:
        raise ValidationError({"role": [_("No such role.")]})
    if role not in Membership.ROLES_BY_KIND[organisation.kind]:
        raise ValidationError({"role": [_("This role is not available in this kind of organisation.")]})


def account_invite(*, actor, email: str, username: str, organisation: Organisation, role: str,
                   language: str, context: ChangeContext):
    """Create a person's account without a password and mail them a one-time link to set one."""
    from django.contrib.auth import get_user_model

    from smartcity.outbox import outbox_enqueue

    users = get_user_model()
    email = users.objects.normalize_email(email)
    if users.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": [_("This address is already in use by an account.")]})
    if users.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": [_("This user name is taken.")]})
    _placement(actor=actor, organisation=organisation, role=role)
    with transaction.atomic():
        user = users(username=username, email=email)
        user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save()
        membership = Membership(user=user, organisation=organisation, role=role, language=language)
        membership.full_clean()
        membership.save()
        audit_record(context=context, action="invite", instance=user, before=None, after=_person(user))
        audit_record(context=context, action="create", instance=membership, before=None, after=snapshot(membership))
        outbox_enqueue(task=INVITATION_TASK, kwargs={"user_id": user.pk})
    return user


def invitation_send(*, user_id: int) -> bool:
    """Mail the invitation with its link (valid once, for PASSWORD_RESET_TIMEOUT). Skipped once the person
    has set a password or been deactivated; run twice, it mails a second link (either works, once)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.tokens import default_token_generator
    from django.core.mail import send_mail
    from django.template.loader import render_to_string
    from django.urls import reverse
    from django.utils import translation
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    from smartcity.links import site_url

    user = get_user_model().objects.select_related("membership__organisation").filter(pk=user_id).first()
    if user is None or not user.is_active or user.has_usable_password():
        return False
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    link = site_url(reverse("invitation_accept", kwargs={"uidb64": uid, "token": default_token_generator.make_token(user)}))
    with translation.override(user.membership.language):
        context = {"user": user, "organisation": user.membership.organisation, "link": link,
                   "hours": settings.PASSWORD_RESET_TIMEOUT // 3600}
        subject = render_to_string("accounts/invitation_subject.txt", context).strip()
        body = render_to_string("accounts/invitation_email.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    return True


def account_change(*, actor, user, organisation: Organisation | None = None, role: str | None = None,
                   context: ChangeContext):
    membership = user.membership
    organisation = organisation or membership.organisation
    role = role or membership.role
    _placement(actor=actor, organisation=organisation, role=role)
    with transaction.atomic():
        before = snapshot(membership)
        membership.organisation, membership.role = organisation, role
        membership.full_clean()
        membership.save(update_fields=["organisation", "role"])
        audit_record(context=context, action="update", instance=membership, before=before, after=snapshot(membership))
    return user


def account_deactivate(*, actor, user, context: ChangeContext):
    """Deactivate at once: sessions end (the backends refuse an inactive user), every token is revoked."""
    from django.utils import timezone

    from smartcity.models import ApiToken

    if user.pk == getattr(actor.user, "pk", None):
        raise ValidationError({"user": [_("You cannot deactivate your own account.")]})
    with transaction.atomic():
        before = _person(user)
        user.is_active = False
        user.save(update_fields=["is_active"])
        revoked = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
        audit_record(context=context, action="deactivate", instance=user, before=before,
                     after={**_person(user), "tokens_revoked": revoked})
    return user


def account_reactivate(*, actor, user, context: ChangeContext):
    with transaction.atomic():
        before = _person(user)
        user.is_active = True
        user.save(update_fields=["is_active"])
        audit_record(context=context, action="reactivate", instance=user, before=before, after=_person(user))
    return user
