"""Lockout after repeated failed sign-ins, for the API token endpoint and the admin alike.

Failures are counted per username and client address in the cache (set ``CACHE_URL`` to Redis in
production so that every web worker shares the count). Counting per address as well as per name
keeps one attacker from locking a clerk out of the service from elsewhere.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.dispatch import receiver


def client_address(request) -> str:
    if request is None:
        return "-"
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    if forwarded and proxies:
        hops = [hop.strip() for hop in forwarded.split(",")]
        return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR", "-")


def _normalised(username: str) -> str:
    return (username or "").strip().lower()


def _key(username: str, request) -> str:
    return _key_for(username, client_address(request))


def _key_for(username: str, address: str) -> str:
    # Hashed: neither names nor addresses are written to the cache in clear.
    raw = f"{_normalised(username)}|{address}"
    return "login-failures:" + hashlib.sha256(raw.encode()).hexdigest()


def locked_out_for(username: str, request) -> int:
    """Seconds until this name may try again from this address; 0 when it may now."""
    if cache.get(_key(username, request), 0) < settings.LOGIN_LOCKOUT_THRESHOLD:
        return 0
    return settings.LOGIN_LOCKOUT_SECONDS


def record_failure(username: str, request) -> None:
    key = _key(username, request)
    cache.add(key, 0, timeout=settings.LOGIN_LOCKOUT_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)
        count = 1
    if count == settings.LOGIN_LOCKOUT_THRESHOLD:  # exactly one failure reaches it: one lockout row
        from smartcity.auth.signins import lockout_open

        lockout_open(username=_normalised(username), address=client_address(request))


def clear_failures(username: str, request) -> None:
    cache.delete(_key(username, request))


def clear_failures_for(username: str, address: str) -> None:
    """Forget the failures of a name from an address (lifting a lockout)."""
    cache.delete(_key_for(username, address))


@receiver(user_login_failed)
def _count_failure(sender, credentials, request=None, **kwargs):
    if credentials.get("username"):  # a single sign-on's failure names nobody: nothing to count
        record_failure(credentials["username"], request)


@receiver(user_logged_in)
def _forget_failures(sender, request, user, **kwargs):
    clear_failures(user.get_username(), request)


class LockoutModelBackend(ModelBackend):
    """Django's model backend that refuses any password, right or wrong, while a lockout lasts.

    Its steps are ``ModelBackend.authenticate``'s, one by one, so that it can note on the request why an
    attempt fails (``smartcity.auth.signins`` records the reason; the signal Django sends carries none).
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        from smartcity.auth.signins import Reason, Via, note_failure_reason, via_of

        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        if not settings.LOCAL_PASSWORD_SIGN_IN and via_of(request) != Via.API:
            # Passwords are off for people (dashboard, admin); the API's token exchange keeps them.
            note_failure_reason(request, Reason.PASSWORDS_OFF, self._named(username))
            return None
        if username and locked_out_for(username, request):
            note_failure_reason(request, Reason.LOCKED, self._named(username))
            return None
        user = self._named(username)
        if user is None:
            get_user_model()().set_password(password)  # as long as a wrong password: no timing difference
            note_failure_reason(request, Reason.UNKNOWN_USER)
            return None
        if not user.check_password(password):
            note_failure_reason(request, Reason.WRONG_PASSWORD, user)
            return None
        if not self.user_can_authenticate(user):
            note_failure_reason(request, Reason.INACTIVE, user)
            return None
        return user

    @staticmethod
    def _named(username):
        model = get_user_model()
        try:
            return model._default_manager.get_by_natural_key(username)
        except model.DoesNotExist:
            return None
