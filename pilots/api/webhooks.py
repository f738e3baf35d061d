"""/api/v1/webhooks/: an integrator's own webhook subscriptions, and each one's delivery log."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from pilots.models.webhooks import WebhookDelivery, WebhookEvent, WebhookSubscription
from pilots.services.webhooks import (
    webhook_subscription_create,
    webhook_subscription_delete,
    webhook_subscription_update,
)
from smartcity.api.idempotency import IdempotentPostMixin
from smartcity.api.viewsets import ScopedViewSetMixin
from smartcity.audit import ChangeContext
from smartcity.auth.access import Role, Rule

SIGNATURE_DOC = (
    "Each delivery is an HTTP POST of a JSON body `{id, event, created_at, data}` with the header "
    "`X-Smartcity-Signature: t=<unix seconds>,v1=<hex>`, where `v1` is HMAC-SHA256 keyed with the "
    "subscription's secret over `<t>.<raw body>`. Verify it in constant time and reject old `t`. "
    "Failures are retried with exponential backoff; after 10 failures in a row the subscription is "
    "disabled and its owner notified in-app."
)

# Managing one's own subscriptions changes no programme data: integrators (read-only tokens) may do it.
_OWNERS = Rule(roles=frozenset({Role.INTEGRATOR, Role.ADMIN}), description="integrators and administrators")


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.choices), allow_empty=False)

    class Meta:
        model = WebhookSubscription
        fields = ["id", "url", "events", "active", "consecutive_failures", "disabled_at", "created_at"]
        read_only_fields = ["id", "consecutive_failures", "disabled_at", "created_at"]


class IssuedWebhookSubscriptionSerializer(WebhookSubscriptionSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown only in this response: keep it to verify signatures.")

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret"]
        read_only_fields = [*WebhookSubscriptionSerializer.Meta.read_only_fields, "secret"]


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
                         responses={201: IssuedWebhookSubscriptionSerializer}),
    partial_update=extend_schema(summary="Change a webhook subscription",
                                 description="Setting `active` true again also resets the failure count."),
    destroy=extend_schema(summary="Delete a webhook subscription"),
)
class WebhookSubscriptionViewSet(IdempotentPostMixin, ScopedViewSetMixin, mixins.ListModelMixin,
                                 mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                                 viewsets.GenericViewSet):
    serializer_class = WebhookSubscriptionSerializer
    queryset = WebhookSubscription.objects.all()
    filterset_fields = ["active"]
    ordering_fields = ["created_at"]
    access_rules = {"*read": _OWNERS, "create": _OWNERS, "partial_update": _OWNERS, "destroy": _OWNERS,
                    "deliveries": _OWNERS}

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
