from __future__ import annotations

from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import AuthenticationFailed, Throttled, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from smartcity.api.errors import ErrorSerializer
from smartcity.api.viewsets import AsciiIdMixin
from smartcity.api.serializers import ApiTokenSerializer, IssuedTokenSerializer, TokenRequestSerializer
from smartcity.audit import ChangeContext
from smartcity.auth import signins
from smartcity.auth.lockout import locked_out_for
from smartcity.auth.access import PUBLIC, SIGNED_IN, Role, actor_from_user, actor_for
from smartcity.auth.services import token_issue, token_revoke
from smartcity.models import ApiToken

# Roles that may hold a write-scoped token. An integrator's writes nothing but its own webhook
# subscriptions: no other write rule names the integrator role.
WRITING_ROLES = {Role.REPORTER, Role.REVIEWER, Role.ADMIN, Role.INTEGRATOR}


class TokenObtainView(APIView):
    """Exchange a username and password for a bearer token."""

    authentication_classes: list = []  # a stale token in the header must not stop anyone obtaining a new one
    access_rules = {"post": PUBLIC}

    def get_authenticate_header(self, request) -> str:
        # Without this DRF turns "wrong password" into a 403; it is a 401.
        return 'Bearer realm="api"'

    @extend_schema(
        operation_id="auth_token_create",
        summary="Obtain an API token",
        description=(
            "Checks the username and password and issues a new bearer token. The `key` is returned only "
            "in this response; the server stores just its hash. Use it as `Authorization: Bearer <key>`. "
            "Tokens are read-only unless `can_write` is requested by a role that may write. An integrator may "
            "request `can_write` to manage its webhook subscriptions; such a token writes nothing else."
        ),
        request=TokenRequestSerializer,
        responses={
            201: IssuedTokenSerializer,
            401: OpenApiResponse(ErrorSerializer, description="Wrong username or password, or a disabled account."),
        },
        examples=[
            OpenApiExample(
                "Prefecture reporter",
                value={"username": "pref-510100", "password": "…", "name": "成都市填报", "can_write": True},
                request_only=True,
            ),
        ],
        tags=["auth"],
    )
    def post(self, request):
        params = TokenRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        wait = locked_out_for(data["username"], request)
        if wait:
            signins.signin_record(request=request, event=signins.Event.TOKEN, result=signins.Result.FAILURE,
                                  reason=signins.Reason.LOCKED, username=data["username"])
            raise Throttled(wait=wait, detail=_("Too many failed sign-ins; try again in %(minutes)s minutes.")
                            % {"minutes": (wait + 59) // 60})
        user = authenticate(request, username=data["username"], password=data["password"])
        if user is None or not user.is_active:
            raise AuthenticationFailed(_("Wrong username or password."), code="bad_credentials")
        actor = actor_from_user(user)
        if not actor.is_member:
            self._refused(request, data, user, signins.Reason.NO_ORGANISATION)
            raise AuthenticationFailed(_("This account belongs to no organisation."), code="no_organisation")
        if data["can_write"] and actor.role not in WRITING_ROLES:
            self._refused(request, data, user, signins.Reason.READ_ONLY_ROLE)
            raise ValidationError({"can_write": [_("This account's role is read-only; request a read-only token.")]})
        token, key = token_issue(
            user=user, name=data["name"], can_write=data["can_write"], ttl_days=data.get("expires_in_days"),
            context=ChangeContext.from_request(request),
        )
        signins.signin_record(request=request, event=signins.Event.TOKEN, result=signins.Result.SUCCESS,
                              username=data["username"], user=user, token_prefix=token.prefix)
        token.key = key
        return Response(IssuedTokenSerializer(token).data, status=status.HTTP_201_CREATED)

    @staticmethod
    def _refused(request, data, user, reason):
        signins.signin_record(request=request, event=signins.Event.TOKEN, result=signins.Result.FAILURE,
                              reason=reason, username=data["username"], user=user)


@extend_schema_view(
    list=extend_schema(summary="List API tokens",
                       description="Your own tokens; an administrator sees everyone's. Keys are never shown again."),
    retrieve=extend_schema(summary="Show one API token"),
    destroy=extend_schema(summary="Revoke an API token",
                          description="Revokes the token at once; it stays listed, with its revocation time."),
)
class ApiTokenViewSet(AsciiIdMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                      viewsets.GenericViewSet):
    serializer_class = ApiTokenSerializer
    queryset = ApiToken.objects.select_related("user")  # user: for `username`
    access_rules = {"list": SIGNED_IN, "retrieve": SIGNED_IN, "destroy": SIGNED_IN}
    filterset_fields = ["can_write"]
    ordering_fields = ["created_at", "expires_at", "last_used_at"]

    def get_queryset(self):
        actor = actor_for(self.request)
        if actor.has_role(Role.ADMIN):
            return self.queryset
        return self.queryset.filter(user=self.request.user)

    def perform_destroy(self, instance):
        already_revoked = instance.revoked_at is not None
        token_revoke(token=instance, context=ChangeContext.from_request(self.request))
        if not already_revoked:
            signins.token_revocation_record(request=self.request, token=instance)
