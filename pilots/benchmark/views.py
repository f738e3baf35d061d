"""The ingest floor: the cheapest authenticated write the server can do through the same stack."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from pilots.models import Membership, Notification
from smartcity.auth.access import write_rule


@extend_schema(exclude=True)
class FloorWriteView(APIView):
    """POST: one INSERT (a notification to the caller), behind the same middleware, token auth,
    access policy and throttles as ``POST /api/v1/reports/`` — what filing a report costs at the least."""

    access_rules = {"post": write_rule(Membership.Role.REPORTER)}

    def post(self, request):
        row = Notification.objects.create(user=request.user, title="benchmark floor")
        return Response({"id": row.pk}, status=201)
