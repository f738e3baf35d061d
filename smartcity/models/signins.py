"""The sign-in record and the lockouts it leads to.

``SignInEvent`` is append-only like the audit trail: one row per session sign-in, token exchange, sign-out
and token revocation, successful or not, written only by ``smartcity.auth.signins.signin_record``. It holds
the user name as typed, never a password or a token (``token_prefix`` names a token as the token list shows
it). On PostgreSQL a trigger refuses UPDATE and DELETE (migration ``signins``), except the retention purge.

``LoginLockout`` is the lasting trace of a lockout: the count itself lives in the cache
(``smartcity.auth.lockout``), which cannot be listed; a row is written when a name and address reach the
threshold, and the province lifts it here.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from smartcity.auth.roles import PROVINCE_ROLES, OrganisationKind, Role


def province_reads(actor) -> bool:
    """Provincial reviewers and administrators (and a superuser) read the whole record and the lockouts."""
    if actor.is_superuser:
        return True
    return actor.has_role(*PROVINCE_ROLES) and actor.organisation_kind == OrganisationKind.PROVINCE


def signins_scope(queryset, actor):
    """The province reads everything; an office's administrator its own office's people; others nothing."""
    if province_reads(actor):
        return queryset
    if actor.has_role(Role.ADMIN) and actor.organisation_id is not None:
        return queryset.filter(organisation_id=actor.organisation_id)
    return queryset.none()


class SignInQuerySet(models.QuerySet):
    def visible_to(self, actor):
        """The province (reviewers and administrators) reads every row; an office's administrator the rows
        of its own office's people; everyone else nothing."""
        return signins_scope(self, actor)


class SignInEvent(models.Model):
    class Event(models.TextChoices):
        SIGN_IN = "sign_in", _("sign-in")
        TOKEN = "token", _("token exchange")
        SIGN_OUT = "sign_out", _("sign-out")
        TOKEN_REVOKED = "token_revoked", _("token revoked")

    class Via(models.TextChoices):
        DASHBOARD = "dashboard", _("dashboard sign-in page")
        ADMIN = "admin", _("admin site")
        API = "api", _("API")
        SSO = "sso", _("single sign-on")

    class Result(models.TextChoices):
        SUCCESS = "success", _("success")
        FAILURE = "failure", _("failure")

    class Reason(models.TextChoices):
        NONE = "", _("none")
        WRONG_PASSWORD = "wrong_password", _("wrong password")
        UNKNOWN_USER = "unknown_user", _("no such user")
        LOCKED = "locked", _("locked out")
        INACTIVE = "inactive", _("account deactivated")
        NO_ORGANISATION = "no_organisation", _("account belongs to no organisation")
        API_ONLY = "api_only", _("integrator account: API only")
        READ_ONLY_ROLE = "read_only_role", _("write token asked for a read-only role")
        PASSWORDS_OFF = "passwords_off", _("password sign-in is off: use single sign-on")
        SSO_REFUSED = "sso_refused", _("single sign-on: no organisation or role for this person")
        SSO_INVALID = "sso_invalid", _("single sign-on: the provider's answer did not verify")

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    event = models.CharField(_("event"), max_length=16, choices=Event.choices)
    via = models.CharField(_("via"), max_length=10, choices=Via.choices)
    result = models.CharField(_("result"), max_length=8, choices=Result.choices)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices, blank=True)
    username = models.CharField(_("user name as typed"), max_length=150, blank=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    # The user's organisation at the time (an id of the domain's organisation; the platform does not know the
    # model): what an office's administrator's view is narrowed by. Null for a name that names nobody.
    organisation_id = models.BigIntegerField(_("organisation"), null=True, blank=True, db_index=True)
    address = models.CharField(_("address"), max_length=64, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    token_prefix = models.CharField(_("token"), max_length=12, blank=True)
    request_id = models.CharField(_("request ID"), max_length=128, blank=True)

    objects = SignInQuerySet.as_manager()

    class Meta:
        verbose_name = _("sign-in record")
        verbose_name_plural = _("sign-in records")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.event} {self.result} {self.reason}".rstrip()


class LockoutQuerySet(models.QuerySet):
    def visible_to(self, actor):
        """The province only (reviewers and administrators)."""
        return self if province_reads(actor) else self.none()

    def active(self, *, now=None):
        return self.filter(lifted_at__isnull=True, expires_at__gt=now or timezone.now())


class LoginLockout(models.Model):
    username = models.CharField(_("user name"), max_length=150, db_index=True)  # as the counter sees it
    address = models.CharField(_("address"), max_length=64)
    locked_at = models.DateTimeField(_("locked at"), default=timezone.now, db_index=True)
    # At the latest: the counter's window began with the first failure, so it may end earlier.
    expires_at = models.DateTimeField(_("locked until"))
    lifted_at = models.DateTimeField(_("lifted at"), null=True, blank=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    objects = LockoutQuerySet.as_manager()

    class Meta:
        verbose_name = _("lockout")
        verbose_name_plural = _("lockouts")
        ordering = ["-locked_at", "-id"]

    def __str__(self) -> str:
        return f"{self.username} @ {self.address} {self.locked_at:%Y-%m-%d %H:%M}"
