"""People and their accounts, managed by the provincial office's administrators (audited).

Invite (``POST``: an account without a password, and a mail with a one-time link to set one), change the
organisation or role (``PATCH``), ``deactivate/`` (sessions and tokens end at once), ``reactivate/``.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from pilots.models import Membership, Organisation
from pilots.services.accounts import (
    account_change,
    account_deactivate,
    account_invite,
    account_reactivate,
    account_scope,
)
from smartcity.api.viewsets import AsciiIdMixin
from smartcity.audit import ChangeContext
from smartcity.auth.access import Role, Rule, actor_for, write_rule

MANAGERS_READ = Rule(roles=frozenset({Role.ADMIN}), description="provincial administrators")
MANAGERS_WRITE = write_rule(Role.ADMIN)


class AccountSerializer(serializers.ModelSerializer):
    organisation = serializers.SlugRelatedField(source="membership.organisation", slug_field="code", read_only=True,
                                                help_text=_("The organisation's code, e.g. `pref-510100`."))
    role = serializers.CharField(source="membership.role", read_only=True)
    has_password = serializers.SerializerMethodField(help_text=_("False until an invited person sets one."))
    # Not an EmailField on output: an account made before invitations (the demo sign-ins, `createsuperuser`) may
    # have none, and "" is not an e-mail address.
    email = serializers.CharField(read_only=True, help_text=_("The person's e-mail address; empty when none is known."))

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "is_active", "organisation", "role", "has_password", "last_login",
                  "date_joined"]
        read_only_fields = fields

    def get_has_password(self, user) -> bool:
        return user.has_usable_password()


class InvitationSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]{1,150}$", help_text=_("Letters, digits and @ . + - _ only."))
    email = serializers.EmailField()
    organisation = serializers.SlugRelatedField(slug_field="code", queryset=Organisation.objects.all(),
                                                help_text=_("The organisation's code, e.g. `pref-510100`."))
    role = serializers.ChoiceField(choices=[c for c in Membership.Role.choices if c[0] != Role.INTEGRATOR])


class AccountChangeSerializer(serializers.Serializer):
    organisation = serializers.SlugRelatedField(slug_field="code", queryset=Organisation.objects.all(),
                                                required=False)
    role = serializers.ChoiceField(choices=Membership.Role.choices, required=False)


_ACCOUNT_EXAMPLE = OpenApiExample(
    "An invited clerk who has not set a password yet",
    value={"id": 57, "username": "zhang.wei", "email": "zhang.wei@chengdu.example.gov.cn", "is_active": True,
           "organisation": "pref-510100", "role": "reporter", "has_password": False, "last_login": None,
           "date_joined": "2021-10-15T10:00:00+08:00"},
    response_only=True,
)


@extend_schema_view(
    list=extend_schema(summary="List people", description="Everyone with a membership. Provincial administrators.",
                       tags=["accounts"]),
    retrieve=extend_schema(summary="Show a person", examples=[_ACCOUNT_EXAMPLE], tags=["accounts"]),
    create=extend_schema(
        summary="Invite a person",
        description="Creates the account without a password and mails the person a link to set one; it works "
        "once, for `PASSWORD_RESET_TIMEOUT_HOURS`. An address or user name already in use, a role that does not "
        "exist or is not held in that kind of organisation, or an integrator is a 400 naming the field; nothing "
        "is created. Audited.",
        request=InvitationSerializer, responses={201: AccountSerializer},
        examples=[OpenApiExample("A prefecture clerk", request_only=True,
                                 value={"username": "zhang.wei", "email": "zhang.wei@chengdu.example.gov.cn",
                                        "organisation": "pref-510100", "role": "reporter"}), _ACCOUNT_EXAMPLE],
        tags=["accounts"],
    ),
    partial_update=extend_schema(summary="Change a person's organisation or role", request=AccountChangeSerializer,
                                 responses={200: AccountSerializer}, examples=[_ACCOUNT_EXAMPLE], tags=["accounts"]),
)
class AccountViewSet(AsciiIdMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AccountSerializer
    queryset = get_user_model().objects.select_related("membership__organisation")  # organisation, role
    ordering_fields = ["username", "date_joined", "id"]
    ordering = ["username"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    access_rules = {"list": MANAGERS_READ, "retrieve": MANAGERS_READ, "create": MANAGERS_WRITE,
                    "partial_update": MANAGERS_WRITE, "deactivate": MANAGERS_WRITE, "reactivate": MANAGERS_WRITE}

    def get_queryset(self):
        return account_scope(super().get_queryset(), actor_for(self.request))

    def _context(self):
        return ChangeContext.from_request(self.request)

    def create(self, request, *args, **kwargs):
        params = InvitationSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        user = account_invite(actor=actor_for(request), language=get_language() or "zh-hans",
                              context=self._context(), **params.validated_data)
        return Response(AccountSerializer(user).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        user = self.get_object()
        params = AccountChangeSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        account_change(actor=actor_for(request), user=user, context=self._context(), **params.validated_data)
        return Response(AccountSerializer(self.get_queryset().get(pk=user.pk)).data)

    @extend_schema(summary="Deactivate a person", request=None, responses={200: AccountSerializer},
                   description="Their sessions and tokens end at once (every token is revoked). Audited.",
                   examples=[_ACCOUNT_EXAMPLE], tags=["accounts"])
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        user = account_deactivate(actor=actor_for(request), user=self.get_object(), context=self._context())
        return Response(AccountSerializer(user).data)

    @extend_schema(summary="Reactivate a person", request=None, responses={200: AccountSerializer},
                   description="They may sign in again; their old tokens stay revoked. Audited.",
                   examples=[_ACCOUNT_EXAMPLE], tags=["accounts"])
    @action(detail=True, methods=["post"])
    def reactivate(self, request, pk=None):
        user = account_reactivate(actor=actor_for(request), user=self.get_object(), context=self._context())
        return Response(AccountSerializer(user).data)
