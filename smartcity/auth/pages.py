"""The sign-in record's page (``/accounts/sign-ins/``): the same rows, scope and rules as the API.

A person reads it with their session; the rows come from ``SignInEvent.objects.visible_to(actor)`` and the
lockouts from ``LoginLockout.objects.visible_to(actor)``, and lifting goes through ``lockout_lift``.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from smartcity.audit import ChangeContext
from smartcity.auth.access import actor_for
from smartcity.auth.signins import ADMIN, REVIEWER, lockout_lift, province_reads
from smartcity.models import LoginLockout, SignInEvent

PAGE_SIZE = 50


class SignInFilterForm(forms.Form):
    user = forms.CharField(label=_("User name"), required=False, max_length=150)
    result = forms.ChoiceField(label=_("Result"), required=False,
                               choices=[("", _("all"))] + list(SignInEvent.Result.choices))
    date_from = forms.DateField(label=_("From (date)"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To (date)"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def filter(self, queryset):
        data = self.cleaned_data
        if data.get("user"):
            queryset = queryset.filter(username__iexact=data["user"])
        if data.get("result"):
            queryset = queryset.filter(result=data["result"])
        zone = timezone.get_current_timezone()  # Asia/Shanghai: a day is the province's day
        if data.get("date_from"):
            queryset = queryset.filter(at__gte=dt.datetime.combine(data["date_from"], dt.time.min, zone))
        if data.get("date_to"):
            queryset = queryset.filter(at__lt=dt.datetime.combine(data["date_to"] + dt.timedelta(days=1),
                                                                  dt.time.min, zone))
        return queryset


def _reader(request):
    actor = actor_for(request)
    if not actor.has_role(REVIEWER, ADMIN):
        raise PermissionDenied(_("Only the provincial office and an office's administrator read the sign-in record."))
    return actor


@login_required
def signin_record_page(request):
    actor = _reader(request)
    form = SignInFilterForm(request.GET or None)
    rows = SignInEvent.objects.visible_to(actor).select_related("user")  # user: the account column
    if form.is_bound and form.is_valid():
        rows = form.filter(rows)
    elif form.is_bound:
        rows = rows.none()
    page = Paginator(rows.order_by("-at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    lockouts = None
    if province_reads(actor):
        lockouts = list(LoginLockout.objects.visible_to(actor).active().order_by("-locked_at", "-id"))
    return render(request, "accounts/signins.html", {
        "form": form, "page": page, "query": query.urlencode(), "lockouts": lockouts,
        "can_lift": province_reads(actor) and actor.has_role(ADMIN) and actor.token_allows_write,
    })


@login_required
@require_POST
def lockout_lift_page(request, pk: int):
    actor = _reader(request)
    if not actor.has_role(ADMIN):
        raise PermissionDenied(_("Only a provincial administrator lifts a lockout."))
    lockout = LoginLockout.objects.visible_to(actor).filter(pk=pk).first()
    if lockout is None:
        raise Http404
    lockout_lift(lockout=lockout, context=ChangeContext.from_request(request))
    return redirect("signin-record")
