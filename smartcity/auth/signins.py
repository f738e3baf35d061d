"""The sign-in record: one function writes it, the receivers below call it, and one rule says who reads it.

Every session sign-in (dashboard, admin, single sign-on), every token exchange, sign-out and token revocation
becomes one ``SignInEvent`` with the user name as typed, result, reason, address, user agent and time. The
reason of a failure comes from the authentication backend (``smartcity.auth.lockout.LockoutModelBackend``
notes it on the request); the password and the token never reach this module.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from smartcity.audit import ChangeContext, audit_record, snapshot
from smartcity.auth.access import actor_from_user, placement_of
from smartcity.auth.roles import Role
from smartcity.middleware import current_request_id
from smartcity.models import LoginLockout, SignInEvent
from smartcity.models.signins import province_reads, signins_scope  # noqa: F401  (the rule, where the record is)

REVIEWER, ADMIN = Role.REVIEWER, Role.ADMIN

Event = SignInEvent.Event
Via = SignInEvent.Via
Result = SignInEvent.Result
Reason = SignInEvent.Reason

_REASON_ATTR = "_smartcity_signin_reason"
_REFUSED_ATTR = "_smartcity_signin_refused"


# --- Who reads it -----------------------------------------------------------------------------------------


# --- Writing it -------------------------------------------------------------------------------------------


def note_failure_reason(request, reason: str, user=None) -> None:
    """Called by the authentication backend: why this attempt fails, and whose account it named (read by
    the ``user_login_failed`` receiver, which Django calls without either)."""
    if request is not None:
        setattr(request, _REASON_ATTR, (reason, user))


def via_of(request) -> str:
    """Through which door a request signs in, from its path (the views that know better say so)."""
    explicit = getattr(request, "signin_via", None)
    if explicit:
        return explicit
    path = getattr(request, "path", "") or ""
    if path.startswith("/api/"):
        return Via.API
    if path.startswith("/admin/"):
        return Via.ADMIN
    return Via.DASHBOARD


def _organisation_id(user) -> int | None:
    """The organisation of the account named, through the domain's placement (the platform reads no domain model)."""
    placement = placement_of(user) if user is not None else None
    return placement.organisation_id if placement is not None else None


def signin_record(*, request, event: str, result: str, username: str = "", user=None, reason: str = "",
                  via: str | None = None, token_prefix: str = "") -> SignInEvent:
    """Append one row to the sign-in record. Never pass a password or a token key."""
    from smartcity.auth.lockout import client_address

    if user is not None and not getattr(user, "pk", None):
        user = None
    meta = getattr(request, "META", {}) if request is not None else {}
    request_id = current_request_id.get()
    return SignInEvent.objects.create(
        at=timezone.now(),
        event=event,
        via=via or (via_of(request) if request is not None else Via.API),
        result=result,
        reason=reason,
        username=(username or (user.get_username() if user is not None else ""))[:150],
        user=user,
        organisation_id=_organisation_id(user),
        address=client_address(request)[:64] if request is not None else "",
        user_agent=(meta.get("HTTP_USER_AGENT") or "")[:300],
        token_prefix=token_prefix[:12],
        request_id="" if request_id == "-" else request_id[:128],
    )


@receiver(user_login_failed, dispatch_uid="smartcity.signins.failed")
def _record_failure(sender, credentials, request=None, **kwargs):
    if via_of(request) == Via.SSO:
        return  # the single sign-on's callback records its own refusals, with their reason
    username = str(credentials.get("username", "") or "")
    reason, user = getattr(request, _REASON_ATTR, None) or (Reason.WRONG_PASSWORD, None)
    signin_record(request=request, event=Event.TOKEN if via_of(request) == Via.API else Event.SIGN_IN,
                  result=Result.FAILURE, reason=reason, username=username, user=user)


@receiver(user_logged_in, dispatch_uid="smartcity.signins.logged_in")
def _record_sign_in(sender, request, user, **kwargs):
    if actor_from_user(user).api_only:
        # Integrators are API only: ApiOnlyAccountsMiddleware undoes this session at once.
        setattr(request, _REFUSED_ATTR, True)
        signin_record(request=request, event=Event.SIGN_IN, result=Result.FAILURE, reason=Reason.API_ONLY,
                      user=user, username=getattr(request, "POST", {}).get("username", "") or user.get_username())
        return
    signin_record(request=request, event=Event.SIGN_IN, result=Result.SUCCESS, user=user,
                  username=getattr(request, "POST", {}).get("username", "") or user.get_username())


@receiver(user_logged_out, dispatch_uid="smartcity.signins.logged_out")
def _record_sign_out(sender, request, user, **kwargs):
    if user is None or getattr(request, _REFUSED_ATTR, False):
        return
    signin_record(request=request, event=Event.SIGN_OUT, result=Result.SUCCESS, user=user)


def token_revocation_record(*, request, token) -> SignInEvent:
    return signin_record(request=request, event=Event.TOKEN_REVOKED, result=Result.SUCCESS, user=token.user,
                         via=Via.API, token_prefix=token.prefix)


# --- Lockouts ---------------------------------------------------------------------------------------------


def lockout_open(*, username: str, address: str) -> LoginLockout:
    """Called when a name and address reach the threshold: the lasting trace of the lockout."""
    now = timezone.now()
    return LoginLockout.objects.create(
        username=username[:150], address=address[:64], locked_at=now,
        expires_at=now + timezone.timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS),
    )


def lockout_lift(*, lockout: LoginLockout, context: ChangeContext) -> LoginLockout:
    """Lift a lockout at once: the name may try again from that address. Lifting twice is harmless."""
    from smartcity.auth.lockout import clear_failures_for

    with transaction.atomic():
        before = snapshot(lockout)
        user = context.user if getattr(context.user, "is_authenticated", False) else None
        changed = LoginLockout.objects.filter(pk=lockout.pk, lifted_at__isnull=True).update(
            lifted_at=timezone.now(), lifted_by=user)
        lockout.refresh_from_db()
        if changed:
            audit_record(context=context, action="lift", instance=lockout, before=before, after=snapshot(lockout))
    clear_failures_for(lockout.username, lockout.address)
    return lockout
