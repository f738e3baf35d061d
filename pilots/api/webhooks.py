"""/api/v1/webhooks/: an integrator's own webhook subscriptions, and each one's delivery log."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from pilots.models.webhooks import WebhookDelivery, WebhookEvent, WebhookSubscription
from pilots.services.webhooks import (
    standard_secret,
    webhook_subscription_create,
    webhook_subscription_delete,
    webhook_subscription_update,
)
from smartcity.api.idempotency import IdempotentPostMixin
from smartcity.api.viewsets import ScopedViewSetMixin
from smartcity.audit import ChangeContext
from smartcity.auth.access import Role, Rule

SIGNATURE_DOC = (
    "Each delivery is an HTTP POST of a JSON body `{id, event, created_at, data}`, built when the event "
    "happened: `data` is the state of that event (a report's `state`, `reviewed_at` and the reviewer's "
    "`comment` as that transition left them), not the state at send time.\n\n"
    "It carries the [Standard Webhooks](https://www.standardwebhooks.com/) headers `webhook-id` (the event "
    "id, the same on every retry), `webhook-timestamp` (unix seconds, fresh on each attempt) and "
    "`webhook-signature: v1,<base64 HMAC-SHA256 of <id>.<timestamp>.<raw body>>`, so any of that scheme's "
    "libraries verifies it with the subscription's `standard_secret` (`whsec_` + base64 of `secret`). "
    "It also carries `X-Smartcity-Signature: t=<unix seconds>,v1=<hex>`, HMAC-SHA256 keyed with `secret` "
    "over `<t>.<raw body>`. Verify in constant time and reject old timestamps. A retry sends the same body "
    "and `webhook-id`.\n\n"
    "Only public addresses receive webhooks: a URL whose host resolves to a loopback, link-local, private, "
    "unspecified, multicast or reserved address (IPv4, IPv6 or IPv4-mapped) is refused with a 400 on `url` "
    "whose `code` names the rule (`loopback_address`, `private_address`, …), unless the operator allows "
    "the network (`WEBHOOK_ALLOWED_NETWORKS`). The address is checked again at each send; redirects are not "
    "followed (a 3xx is a failed delivery). Failures are retried with exponential backoff; after 10 "
    "failures in a row the subscription is disabled and its owner notified in-app.\n\n"
    "Creating, changing and deleting subscriptions needs a write-scoped token (`can_write`); an integrator "
    "may hold one, and it writes nothing but its own subscriptions. A read-only token reads them."
)

# Managing one's own subscriptions is an integrator's only write: it needs a write-scoped token, which an
# integrator may hold for this alone (no other write rule names the integrator role).
_OWNERS = Rule(roles=frozenset({Role.INTEGRATOR, Role.ADMIN}), description="integrators and administrators")
_OWNERS_WRITE = Rule(roles=frozenset({Role.INTEGRATOR, Role.ADMIN}), writes=True,
                     description="integrators and administrators, with a write-scoped token")

_URL_REFUSED = OpenApiExample(
    "Aimed inside", response_only=True, status_codes=["400"],
    value={"status": 400, "code": "invalid", "detail": "The request has invalid fields.",
           "errors": [{"field": "url", "code": "loopback_address",
                       "message": "Webhooks are not sent to a loopback address: 127.0.0.1 resolves to 127.0.0.1. "
                                  "Use a public address, or have the operator allow its network in "
                                  "WEBHOOK_ALLOWED_NETWORKS."}],
           "request_id": "7f3c2a9e0b1d4c5e"},
)


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.choices), allow_empty=False)

    class Meta:
        model = WebhookSubscription
        fields = ["id", "url", "events", "active", "consecutive_failures", "disabled_at", "created_at"]
        read_only_fields = ["id", "consecutive_failures", "disabled_at", "created_at"]


class IssuedWebhookSubscriptionSerializer(WebhookSubscriptionSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown only in this response: keep it to verify signatures.")
    standard_secret = serializers.SerializerMethodField(
        help_text="The same key in Standard Webhooks form (`whsec_` + base64 of `secret`), for that scheme's "
                  "libraries. Shown only in this response.")

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret", "standard_secret"]
        read_only_fields = [*WebhookSubscriptionSerializer.Meta.read_only_fields, "secret", "standard_secret"]

    def get_standard_secret(self, subscription) -> str:
        return standard_secret(subscription.secret)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "event", "event_id", "created_at", "attempts", "last_status", "last_error", "delivered_at",
                  "failed_at"]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(summary="List your webhook subscriptions", description=SIGNATURE_DOC),
    retrieve=extend_schema(summary="Show one of your webhook subscriptions"),
    create=extend_schema(summary="Subscribe a URL to events", description=SIGNATURE_DOC,
                         responses={201: IssuedWebhookSubscriptionSerializer}, examples=[_URL_REFUSED]),
    partial_update=extend_schema(summary="Change a webhook subscription",
                                 description="Setting `active` true again also resets the failure count. A new "
                                             "`url` is checked like a new subscription's (public addresses only). "
                                             "Needs a write-scoped token.", examples=[_URL_REFUSED]),
    destroy=extend_schema(summary="Delete a webhook subscription", description="Needs a write-scoped token."),
)
class WebhookSubscriptionViewSet(IdempotentPostMixin, ScopedViewSetMixin, mixins.ListModelMixin,
                                 mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                                 viewsets.GenericViewSet):
    serializer_class = WebhookSubscriptionSerializer
    queryset = WebhookSubscription.objects.all()
    filterset_fields = ["active"]
    ordering_fields = ["created_at"]
    access_rules = {"*read": _OWNERS, "create": _OWNERS_WRITE, "partial_update": _OWNERS_WRITE,
                    "destroy": _OWNERS_WRITE, "deliveries": _OWNERS}

    def create(self, request, *args, **kwargs):
        params = self.get_serializer(data=request.data)
        params.is_valid(raise_exception=True)
        subscription, secret = webhook_subscription_create(
            owner=request.user, url=params.validated_data["url"], events=params.validated_data["events"],
            context=ChangeContext.from_request(request))
        subscription.secret = secret
        return Response(IssuedWebhookSubscriptionSerializer(subscription).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        params = self.get_serializer(self.get_object(), data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        subscription = webhook_subscription_update(
            subscription=params.instance, context=ChangeContext.from_request(request), **params.validated_data)
        return Response(self.get_serializer(subscription).data)

    def perform_destroy(self, instance):
        webhook_subscription_delete(subscription=instance, context=ChangeContext.from_request(self.request))

    @extend_schema(summary="List a subscription's deliveries", responses={200: WebhookDeliverySerializer(many=True)},
                   filters=False)
    @action(detail=True, methods=["get"], filter_backends=[])
    def deliveries(self, request, pk=None):
        subscription = self.get_object()
        page = self.paginate_queryset(subscription.deliveries.all())
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


__all__ = ["WebhookSubscriptionViewSet"]
