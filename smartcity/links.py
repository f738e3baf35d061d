"""Absolute links to this service, built in one place from ``SITE_URL``.

Every link the service sends out (notifications, reminder digests, the overdue list, webhook payloads)
goes through ``site_url``, so a service started on another host or port (``make run`` sets
``SITE_URL`` from the port it serves on) never hands out a link to somewhere else.
"""

from __future__ import annotations

from django.conf import settings


def site_url(path: str) -> str:
    """``path`` (starting with ``/``) on this service: ``SITE_URL`` + ``path``."""
    if not path.startswith("/"):
        raise ValueError(f"a site path starts with '/': {path!r}")
    return f"{settings.SITE_URL}{path}"


__all__ = ["site_url"]
