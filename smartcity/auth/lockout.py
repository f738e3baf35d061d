"""Lockout after repeated failed sign-ins, for the API token endpoint and the admin alike.

Failures are counted per username and client address in the cache (set ``CACHE_URL`` to Redis in
production so that every web worker shares the count). Counting per address as well as per name
keeps one attacker from locking a clerk out of the service from elsewhere.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
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


def _key(username: str, request) -> str:
    # Hashed: neither names nor addresses are written to the cache in clear.
    raw = f"{(username or '').strip().lower()}|{client_address(request)}"
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
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)


def clear_failures(username: str, request) -> None:
    cache.delete(_key(username, request))


@receiver(user_login_failed)
def _count_failure(sender, credentials, request=None, **kwargs):
    record_failure(credentials.get("username", ""), request)


@receiver(user_logged_in)
def _forget_failures(sender, request, user, **kwargs):
    clear_failures(user.get_username(), request)


class LockoutModelBackend(ModelBackend):
    """Django's model backend that refuses any password, right or wrong, while a lockout lasts."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username and locked_out_for(username, request):
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
