"""The sign-in record and lockouts, read-only but for lifting a lockout.

Rows are written only by ``smartcity.auth.signins``; this API lists them. The province (reviewers and
administrators) reads every row, an office's administrator its own office's people's rows; lockouts are the
province's, and a provincial administrator lifts one.
"""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from smartcity.api.viewsets import ScopedReadOnlyViewSet
from smartcity.audit import ChangeContext
from smartcity.auth.access import Role, Rule, write_rule
from smartcity.auth.signins import lockout_lift
from smartcity.models import LoginLockout, SignInEvent

# Who may call the list at all; which rows each sees is SignInEvent.objects.visible_to(actor).
RECORD_READERS = Rule(roles=frozenset({Role.REVIEWER, Role.ADMIN}),
                      description="provincial reviewers and administrators; an office's administrator")
LOCKOUT_READERS = Rule(roles=frozenset({Role.REVIEWER, Role.ADMIN}),
                       description="provincial reviewers and administrators")
LOCKOUT_LIFTERS = write_rule(Role.ADMIN)  # scope (LoginLockout.visible_to) leaves only the province's


class SignInEventSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True,
                                        help_text=_("The account the attempt named; null when the name names "
                                                    "nobody (or the account was deleted)."))
    username = serializers.CharField(read_only=True, help_text=_("The user name exactly as typed."))
    reason = serializers.ChoiceField(choices=SignInEvent.Reason.choices, read_only=True,
                                     help_text=_("Why it failed; empty for a success."))

    class Meta:
        model = SignInEvent
        fields = ["id", "at", "event", "via", "result", "reason", "username", "user", "organisation_id", "address",
                  "user_agent", "token_prefix", "request_id"]
        read_only_fields = fields


class SignInEventFilterSet(django_filters.FilterSet):
    user = django_filters.CharFilter(field_name="username", lookup_expr="iexact",
                                     help_text="The user name as typed (case-insensitive), e.g. `pref-510100`.")
    result = django_filters.ChoiceFilter(choices=SignInEvent.Result.choices, help_text="`success` or `failure`.")
    reason = django_filters.ChoiceFilter(choices=[c for c in SignInEvent.Reason.choices if c[0]],
                                         help_text="Why a failure failed.")
    event = django_filters.ChoiceFilter(choices=SignInEvent.Event.choices, help_text="What happened.")
    via = django_filters.ChoiceFilter(choices=SignInEvent.Via.choices, help_text="Through which door.")
    address = django_filters.CharFilter(help_text="The client address, e.g. `203.0.113.7`.")
    at_from = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte",
                                               help_text="At or after this time (ISO 8601), e.g. 2021-10-01T00:00:00+08:00.")
    at_to = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lte",
                                             help_text="At or before this time (ISO 8601).")

    class Meta:
        model = SignInEvent
        fields = ["user", "result", "reason", "event", "via", "address", "at_from", "at_to"]


_SIGNIN_EXAMPLE = OpenApiExample(
    "A wrong password at the dashboard's sign-in page",
    value={"id": 4031, "at": "2021-10-15T09:58:12+08:00", "event": "sign_in", "via": "dashboard",
           "result": "failure", "reason": "wrong_password", "username": "pref-510100", "user": "pref-510100",
           "organisation_id": 3, "address": "203.0.113.7", "user_agent": "Mozilla/5.0 …", "token_prefix": "",
           "request_id": "6f1c0e9a2b7d4c55"},
    response_only=True,
)


@extend_schema_view(
    list=extend_schema(
        summary="List the sign-in record",
        description="Every session sign-in (`event=sign_in`, through the dashboard, the admin or single sign-on) "
        "and token exchange (`event=token`), successful or not, with the reason of a failure (`wrong_password`, "
        "`unknown_user`, `locked`, `inactive`, `no_organisation`, `api_only`, `read_only_role`), the user name "
        "as typed, address, user agent and time; sign-outs and token revocations too. Newest first. Never a "
        "password or a token (`token_prefix` names a token as the token list does). Provincial reviewers and "
        "administrators read every row; an office's administrator reads its own office's people's rows. "
        "Append-only; kept for `SIGNIN_RETENTION_DAYS`.",
        examples=[_SIGNIN_EXAMPLE], tags=["auth"],
    ),
    retrieve=extend_schema(summary="Show one sign-in record", examples=[_SIGNIN_EXAMPLE], tags=["auth"]),
)
class SignInEventViewSet(ScopedReadOnlyViewSet):
    queryset = SignInEvent.objects.select_related("user")  # user: for `user`
    serializer_class = SignInEventSerializer
    filterset_class = SignInEventFilterSet
    ordering_fields = ["at", "id"]
    ordering = ["-at", "-id"]
    access_rules = {"list": RECORD_READERS, "retrieve": RECORD_READERS}


class LoginLockoutSerializer(serializers.ModelSerializer):
    active = serializers.SerializerMethodField(help_text=_("Still in force: neither lifted nor run out."))
    lifted_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True,
                                             help_text=_("Who lifted it; null while it stands or after it ran out."))

    class Meta:
        model = LoginLockout
        fields = ["id", "username", "address", "locked_at", "expires_at", "active", "lifted_at", "lifted_by"]
        read_only_fields = fields

    def get_active(self, lockout) -> bool:
        from django.utils import timezone

        return lockout.lifted_at is None and lockout.expires_at > timezone.now()


class LoginLockoutFilterSet(django_filters.FilterSet):
    active = django_filters.BooleanFilter(method="filter_active",
                                          help_text="`true`: only lockouts still in force; `false`: only past ones.")
    user = django_filters.CharFilter(field_name="username", lookup_expr="iexact", help_text="The locked user name.")

    class Meta:
        model = LoginLockout
        fields = ["active", "user"]

    def filter_active(self, queryset, name, value):
        active = queryset.active()
        return active if value else queryset.exclude(pk__in=active.values("pk"))


_LOCKOUT_EXAMPLE = OpenApiExample(
    "A lockout after five wrong passwords",
    value={"id": 12, "username": "pref-510100", "address": "203.0.113.7", "locked_at": "2021-10-15T10:02:00+08:00",
           "expires_at": "2021-10-15T10:17:00+08:00", "active": True, "lifted_at": None, "lifted_by": None},
    response_only=True,
)


@extend_schema_view(
    list=extend_schema(
        summary="List lockouts",
        description="Every lockout: a user name and address that reached `LOGIN_LOCKOUT_THRESHOLD` failed "
        "sign-ins within `LOGIN_LOCKOUT_SECONDS` are refused, right password or not, at every sign-in, until "
        "`expires_at` at the latest or until lifted. `?active=true` lists those still in force. Provincial "
        "reviewers and administrators only.",
        examples=[_LOCKOUT_EXAMPLE], tags=["auth"],
    ),
    retrieve=extend_schema(summary="Show one lockout", examples=[_LOCKOUT_EXAMPLE], tags=["auth"]),
)
class LoginLockoutViewSet(ScopedReadOnlyViewSet):
    queryset = LoginLockout.objects.select_related("lifted_by")  # lifted_by: for `lifted_by`
    serializer_class = LoginLockoutSerializer
    filterset_class = LoginLockoutFilterSet
    ordering_fields = ["locked_at", "id"]
    ordering = ["-locked_at", "-id"]
    access_rules = {"list": LOCKOUT_READERS, "retrieve": LOCKOUT_READERS, "lift": LOCKOUT_LIFTERS}

    @extend_schema(
        summary="Lift a lockout",
        description="Provincial administrators. The user name may sign in again from that address at once. "
        "Lifting a lockout already lifted, or one that has run out, changes nothing and answers the same. "
        "Audited.",
        request=None, responses={200: LoginLockoutSerializer}, examples=[_LOCKOUT_EXAMPLE], tags=["auth"],
    )
    @action(detail=True, methods=["post"])
    def lift(self, request, pk=None):
        lockout = lockout_lift(lockout=self.get_object(), context=ChangeContext.from_request(request))
        return Response(LoginLockoutSerializer(lockout).data)
