"""Small helpers for API tests."""

from __future__ import annotations

from rest_framework.test import APIClient

from tests.factories import bearer


def client_for(user, *, can_write: bool = False) -> APIClient:
    """An API client that authenticates as ``user`` with a fresh bearer token, as an integrator would."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=bearer(user, can_write=can_write))
    return client


def error_fields(response) -> set[str | None]:
    """The field names an error response complains about."""
    return {item["field"] for item in response.json()["errors"]}
