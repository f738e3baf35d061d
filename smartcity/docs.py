"""The Redoc page's script, served so that the page makes no request outside the service.

drf-spectacular-sidecar ships Redoc's bundle unchanged, and that bundle draws the "API docs by Redocly"
logo from Redocly's CDN on every visit. The service's networks have no internet (and a visitor's
browser should not tell a third party who reads the docs), so the bundle is served with that one URL
replaced by an empty image: Redoc drops an image that fails to load and keeps the attribution text.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import drf_spectacular_sidecar
from django.http import HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

BUNDLE = (Path(drf_spectacular_sidecar.__file__).parent / "static" / "drf_spectacular_sidecar" / "redoc" / "bundles"
          / "redoc.standalone.js")
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@lru_cache(maxsize=1)
def offline_bundle() -> bytes:
    source = BUNDLE.read_text(encoding="utf-8")
    if REDOCLY_LOGO not in source:  # a new Redoc draws its logo otherwise: the test of the docs pages says so
        return source.encode()
    return source.replace(REDOCLY_LOGO, "data:,").encode()


@require_safe
@cache_control(max_age=3600, public=True)
def redoc_bundle(request):
    return HttpResponse(offline_bundle(), content_type="text/javascript; charset=utf-8")
