"""Single sign-on with OpenID Connect (mozilla-django-oidc), off unless ``OIDC_ISSUER`` is set.

The authorization code flow with PKCE (S256), state and nonce; the ID token must be signed by a key the
provider's JWKS publishes, for this client (``aud``), by this issuer (``iss``), unexpired, and carry the
nonce of this sign-in; otherwise the sign-in is refused with a page saying so, and recorded.

Who a person is comes from the provider: the user is found (or created, without a usable password) by the
``OIDC_USERNAME_CLAIM``; their organisation and role from ``OIDC_ORGANISATION_CLAIM`` and
``OIDC_ROLE_CLAIM``, applied at every sign-in by the domain's resolver (``OIDC_MEMBERSHIP_RESOLVER``, a dotted
path: the platform does not know the organisations). A person the resolver cannot place is refused.
Integrators never sign in this way (they are API only). The API keeps its tokens.
"""

from __future__ import annotations

import jwt
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from django.shortcuts import render
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from smartcity.auth import signins

_REFUSAL_ATTR = "_smartcity_sso_refusal"


class SsoRefused(Exception):
    """The provider vouched for a person this service cannot place (raised by the membership resolver)."""


def sso_enabled() -> bool:
    return bool(getattr(settings, "OIDC_ISSUER", ""))


class SmartcityOIDCBackend(OIDCAuthenticationBackend):
    def _verify_jws(self, payload, key):
        header = jwt.get_unverified_header(payload)
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(f"ID token signed with {header.get('alg')!r}, not {self.OIDC_RP_SIGN_ALGO!r}")
        try:
            return jwt.decode(
                payload, key, algorithms=[self.OIDC_RP_SIGN_ALGO], audience=self.OIDC_RP_CLIENT_ID,
                issuer=settings.OIDC_ISSUER, leeway=settings.OIDC_CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iat", "aud", "iss", "sub"]},
            )
        except jwt.InvalidSignatureError:
            raise SuspiciousOperation("ID token signature does not verify") from None
        except jwt.InvalidAudienceError:
            raise SuspiciousOperation("ID token is for another client (aud)") from None
        except jwt.InvalidIssuerError:
            raise SuspiciousOperation("ID token is from another issuer (iss)") from None
        except jwt.ExpiredSignatureError:
            raise SuspiciousOperation("ID token has expired (exp)") from None
        except jwt.PyJWTError as exc:
            raise SuspiciousOperation(f"ID token refused: {exc}") from None

    def get_userinfo(self, access_token, id_token, payload):
        claims = super().get_userinfo(access_token, id_token, payload)
        if claims.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("userinfo is about another subject than the ID token")
        return {**claims, **payload}  # the signed ID token wins over the userinfo answer

    def get_user(self, user_id):
        user = super().get_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None  # deactivated: out at once

    def verify_claims(self, claims):
        return bool(claims.get(settings.OIDC_USERNAME_CLAIM))

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(username=str(claims.get(settings.OIDC_USERNAME_CLAIM))[:150])

    def create_user(self, claims):
        user = self.UserModel.objects.create_user(str(claims[settings.OIDC_USERNAME_CLAIM])[:150],
                                                  email=claims.get("email") or "")
        return self.update_user(user, claims)  # a user without a usable password: create_user sets none

    def update_user(self, user, claims):
        resolver = import_string(settings.OIDC_MEMBERSHIP_RESOLVER)
        try:
            resolver(user=user, organisation=claims.get(settings.OIDC_ORGANISATION_CLAIM),
                     role=claims.get(settings.OIDC_ROLE_CLAIM))
        except SsoRefused as refusal:
            setattr(self.request, _REFUSAL_ATTR, (signins.Reason.SSO_REFUSED, str(refusal), user))
            return None
        return user


def _enabled_only(view):
    def wrapped(request, *args, **kwargs):
        if not sso_enabled():
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


class SsoCallbackView(OIDCAuthenticationCallbackView):
    """The provider sends the person back here; a refusal is a page that says why, and is recorded."""

    def get(self, request):
        request.signin_via = signins.Via.SSO
        try:
            return super().get(request)
        except SuspiciousOperation as exc:
            return self._refuse(signins.Reason.SSO_INVALID, _("The identity provider's answer did not verify: %(why)s.")
                                % {"why": exc})

    def login_failure(self):
        reason, message, user = getattr(self.request, _REFUSAL_ATTR, (None, "", None))
        if reason is None and getattr(self, "user", None) is not None and not self.user.is_active:
            reason, message, user = (signins.Reason.INACTIVE, _("This account has been deactivated."), self.user)
        if reason is None:
            reason, message = signins.Reason.SSO_INVALID, _("The sign-in was cancelled or could not be completed.")
        return self._refuse(reason, message, user=user)

    def _refuse(self, reason, message, *, user=None):
        signins.signin_record(request=self.request, event=signins.Event.SIGN_IN, result=signins.Result.FAILURE,
                              reason=reason, user=user, username=user.get_username() if user else "",
                              via=signins.Via.SSO)
        return render(self.request, "accounts/sso_refused.html", {"message": message}, status=403)


sso_authenticate = _enabled_only(OIDCAuthenticationRequestView.as_view())
sso_callback = _enabled_only(SsoCallbackView.as_view())


class LoginView(auth_views.LoginView):
    """The sign-in page: the password form unless local passwords are off, and the single sign-on button."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "sso_enabled": sso_enabled(),
                "local_passwords": settings.LOCAL_PASSWORD_SIGN_IN}
