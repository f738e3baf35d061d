from __future__ import annotations

import copy

from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from smartcity.models import ApiToken


class FieldsBuiltOnce:
    # For a ModelSerializer: introspect the model once per class, not once per instance. DRF builds a
    # ModelSerializer's fields from the model for every instance it makes (for a nested one, per
    # response), which costs more than rendering the row. What it builds depends on the class alone,
    # so it is kept and copied for each instance, as DRF itself copies declared fields. (A comment, not
    # a docstring: the schema would show a docstring as the description of every serializer using it.)

    def get_fields(self):
        built = type(self).__dict__.get("_fields_built_once")
        if built is None:
            built = super().get_fields()
            type(self)._fields_built_once = built
        return copy.deepcopy(built)


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, style={"input_type": "password"}, trim_whitespace=False)
    name = serializers.CharField(max_length=100, required=False, default="", allow_blank=True,
                                 help_text=_("A label to recognise the token by, e.g. the client system."))
    can_write = serializers.BooleanField(
        required=False, default=False,
        help_text=_("Request a read-write token. Only roles that may write (reporter, reviewer, admin) get one."),
    )
    expires_in_days = serializers.IntegerField(
        required=False, min_value=1, max_value=settings.API_TOKEN_MAX_TTL_DAYS,
        help_text=format_lazy(_("Lifetime in days; defaults to {days}."), days=settings.API_TOKEN_DEFAULT_TTL_DAYS),
    )


class ApiTokenSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    is_active = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "username", "can_write", "created_at", "expires_at",
                  "last_used_at", "revoked_at", "is_active"]
        read_only_fields = fields

    def get_is_active(self, token: ApiToken) -> bool:
        return token.is_active()


class IssuedTokenSerializer(ApiTokenSerializer):
    key = serializers.CharField(read_only=True, help_text=_("The secret. Shown once; store it now."))

    class Meta(ApiTokenSerializer.Meta):
        fields = ["key", *ApiTokenSerializer.Meta.fields]
        read_only_fields = fields
