"""Passwords: change your own, and reset a forgotten one by e-mail, with Django's views and forms.

A reset request never reveals whether an account exists: the page answers the same for any address, and
the request only enqueues the work (``password_reset_request``, through the outbox) so that it also takes
the same time; the worker looks the address up and mails a link to each active account holding it
(``password_reset_send``). The link is Django's one-time token: it dies once the password changes, and
after ``PASSWORD_RESET_TIMEOUT`` seconds. Links point at ``SITE_URL``, never at the request's Host header.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpResponseRedirect
from django.urls import reverse_lazy
from django.utils import translation

from smartcity.outbox import outbox_enqueue

RESET_TASK = "smartcity.send_password_reset"
EMAIL_TEMPLATE = "accounts/password_reset_email.txt"
SUBJECT_TEMPLATE = "accounts/password_reset_subject.txt"


def password_reset_request(*, email: str, language: str) -> None:
    """Ask for a reset link to be mailed to ``email`` (if it is an active account's): same work for any address."""
    outbox_enqueue(task=RESET_TASK, kwargs={"email": email, "language": language})


def password_reset_send(*, email: str, language: str) -> int:
    """Mail a reset link to each active account with a usable password at ``email``; returns how many.

    Run twice (a redelivery), it mails a second link; either works until the password is changed.
    """
    form = PasswordResetForm(data={"email": email})
    if not form.is_valid():
        return 0
    users = list(form.get_users(form.cleaned_data["email"]))
    if not users:
        return 0
    with translation.override(language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE):
        form.save(
            subject_template_name=SUBJECT_TEMPLATE, email_template_name=EMAIL_TEMPLATE,
            from_email=settings.DEFAULT_FROM_EMAIL, domain_override="-",
            extra_email_context={"site_url": settings.SITE_URL},
        )
    return len(users)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset page with the project's template; the mail is sent by the worker."""

    template_name = "accounts/password_reset_form.html"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        password_reset_request(email=form.cleaned_data["email"], language=translation.get_language())
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change_form.html"
    success_url = reverse_lazy("password_change_done")


class InvitationAcceptView(auth_views.PasswordResetConfirmView):
    """An invited person sets their first password through the link in their invitation (one use, expiring)."""

    template_name = "accounts/invitation_accept.html"
    success_url = reverse_lazy("password_reset_complete")
