"""The service's own error pages (400, 403, 404, 500), in every mode.

People get an HTML page in their language, styled like the dashboard and under the strict
Content-Security-Policy; API paths get JSON in the one error shape. Django's debug pages (with the URL list
and the traceback) are shown only to a developer who asks for them with ``DEBUG_ERROR_PAGES=true`` while
``DEBUG`` is on: a clerk trying the service under ``make run`` sees what production shows.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import logout
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpResponse
from django.template.loader import render_to_string
from django.urls import Resolver404, get_urlconf, resolve
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from smartcity.api.errors import json_error_response
from smartcity.auth.access import actor_from_user
from smartcity.request_ids import current_request_id

logger = logging.getLogger("django.request")

API_PREFIX = "/api/"


def _titles() -> dict[int, tuple[str, str]]:
    return {
        400: (_("Bad request"), _("The request could not be understood.")),
        403: (_("Access refused"), _("You may not open this page.")),
        404: (_("Page not found"), _("There is no such page, or it is not among the pages you may see.")),
        500: (_("Server error"), _("Something went wrong on our side; it has been logged with this request ID.")),
    }


def error_page(request, status: int, reason: str = "") -> HttpResponse:
    """The HTML page for ``status``; ``reason`` says why, when the code that refused knows it."""
    title, message = _titles()[status]
    request_id = current_request_id.get()
    html = render_to_string("errors/page.html", {
        "lang": get_language() or settings.LANGUAGE_CODE, "status": status, "title": title, "message": message,
        "reason": reason, "app": _("Smart city pilots"), "home": _("Back to the dashboard"),
        "request_id_label": _("Request ID:"), "request_id": "" if request_id == "-" else request_id,
    })
    response = HttpResponse(html, status=status, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY
    return response


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request, exception=None):
    if _is_api(request):
        return json_error_response(400, "bad_request", _("The request could not be understood."))
    return error_page(request, 400)


def permission_denied(request, exception=None):
    reason = str(exception) if exception is not None and str(exception) else ""
    if _is_api(request):
        return json_error_response(403, "permission_denied", reason or _("You may not do this."))
    return error_page(request, 403, reason)


def page_not_found(request, exception=None):
    if _is_api(request):
        return json_error_response(404, "not_found", _("No such endpoint."))
    return error_page(request, 404)


def server_error(request):
    if _is_api(request):
        return json_error_response(500, "server_error", _("Internal error; it has been logged with this request ID."))
    return error_page(request, 500)


def debug_pages_wanted() -> bool:
    return settings.DEBUG and settings.DEBUG_ERROR_PAGES


class ErrorPagesMiddleware:
    """With DEBUG on, Django answers an unknown URL or an exception with its debug page, bypassing the
    handlers; this answers with the service's own page instead, unless ``DEBUG_ERROR_PAGES`` asks for
    the debug one. With DEBUG off Django calls the handlers itself and this does nothing.

    It sits last in ``MIDDLEWARE`` so that CommonMiddleware still turns a 404 into the APPEND_SLASH redirect.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.DEBUG and not settings.DEBUG_ERROR_PAGES:
            try:
                resolve(request.path_info, getattr(request, "urlconf", None) or get_urlconf())
            except Resolver404:
                return page_not_found(request)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not settings.DEBUG or settings.DEBUG_ERROR_PAGES:
            return None
        if isinstance(exception, Http404):
            return page_not_found(request, exception)
        if isinstance(exception, PermissionDenied):
            return None  # Django calls handler403 in every mode
        if isinstance(exception, (BadRequest, SuspiciousOperation)):
            logger.warning("Bad request: %s", request.path, extra={"status_code": 400, "request": request})
            return bad_request(request, exception)
        logger.error("Internal Server Error: %s", request.path, exc_info=exception,
                     extra={"status_code": 500, "request": request})
        return server_error(request)


class ApiOnlyAccountsMiddleware:
    """An integrator's account is for the API: no session page (dashboard, admin) opens for it, and a
    sign-in with it (the dashboard's or the admin's) is undone and refused with a 403 saying why."""

    # Leaving and choosing a language stay possible, so that a person signed in by mistake can get out.
    exempt_prefixes = (API_PREFIX, "/accounts/logout/", "/i18n/", "/static/", "/healthz", "/readyz")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(self.exempt_prefixes):
            return self.get_response(request)
        if _api_only(request.user):
            raise PermissionDenied(api_only_reason())
        response = self.get_response(request)
        if _api_only(getattr(request, "user", None)):  # signed in during this request
            logout(request)
            raise PermissionDenied(api_only_reason())
        return response


def _api_only(user) -> bool:
    return user is not None and user.is_authenticated and actor_from_user(user).api_only


def api_only_reason() -> str:
    return _("This is an integrator account: it calls the API with a token and cannot sign in to the "
             "dashboard or the admin. Sign in with a person's account, or use your API token.")
