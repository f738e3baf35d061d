"""Integrators and offices exchange a password for a token, use it, and revoke it."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from smartcity.models import ApiToken, AuditEntry
from tests.factories import PASSWORD, OrganisationFactory, UserFactory, member
from tests.helpers import client_for, error_fields

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
TOKENS_URL = "/api/v1/auth/tokens/"
PROTECTED = "/api/v1/prefectures/"


def obtain(username, password=PASSWORD, **extra):
    return APIClient().post(TOKEN_URL, {"username": username, "password": password, **extra}, format="json")


def test_an_office_obtains_a_token_and_uses_it():
    reporter = member("reporter", username="pref-510100")

    response = obtain("pref-510100", name="成都市填报", can_write=True)

    assert response.status_code == 201
    body = response.json()
    assert body["key"].startswith("sct_") and body["prefix"] == body["key"][:12]
    assert body["can_write"] is True and body["username"] == "pref-510100"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['key']}")
    assert client.get(PROTECTED).status_code == 200
    token = ApiToken.objects.get(user=reporter)
    assert token.last_used_at is not None


def test_the_server_keeps_only_a_hash_of_the_key():
    member("viewer", username="watcher")

    key = obtain("watcher").json()["key"]

    token = ApiToken.objects.get()
    assert key not in token.key_hash and token.key_hash != key and len(token.key_hash) == 64
    assert key not in str(AuditEntry.objects.values_list("after", flat=True)[0])


def test_a_wrong_password_gets_a_401_and_no_token():
    member("viewer", username="watcher")

    response = obtain("watcher", password="not-it")

    assert response.status_code == 401
    assert response.json()["code"] == "bad_credentials"
    assert ApiToken.objects.count() == 0


def test_missing_credentials_name_the_missing_fields():
    response = APIClient().post(TOKEN_URL, {}, format="json")

    assert response.status_code == 400
    assert error_fields(response) == {"username", "password"}


def test_a_read_only_role_cannot_obtain_a_write_token():
    # A viewer writes nothing at all. (An integrator may: its webhook subscriptions, see test_webhooks.)
    member("viewer", username="ywtg")

    response = obtain("ywtg", can_write=True)

    assert response.status_code == 400
    assert error_fields(response) == {"can_write"}
    assert ApiToken.objects.count() == 0


def test_a_token_lifetime_beyond_the_maximum_is_refused():
    member("viewer", username="watcher")

    response = obtain("watcher", expires_in_days=10_000)

    assert response.status_code == 400
    assert error_fields(response) == {"expires_in_days"}


def test_an_expired_token_is_refused():
    member("viewer", username="watcher")
    key = obtain("watcher", expires_in_days=1).json()["key"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    with time_machine.travel(timezone.now() + dt.timedelta(days=1, seconds=1)):
        response = client.get(PROTECTED)

    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


def test_a_revoked_token_is_refused_at_once():
    member("viewer", username="watcher")
    body = obtain("watcher").json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['key']}")

    assert client.delete(f"{TOKENS_URL}{body['id']}/").status_code == 204
    response = client.get(PROTECTED)

    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    assert AuditEntry.objects.filter(action="revoke", object_id=str(body["id"])).count() == 1


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer sct_nonsense", "Bearer 令牌"])
def test_a_malformed_or_unknown_token_is_a_401(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get(PROTECTED)

    assert response.status_code == 401
    assert response.json()["code"] in {"token_malformed", "token_invalid", "authentication_failed"}


def test_an_owner_lists_only_their_own_tokens_and_an_admin_lists_all():
    alice = member("viewer")
    bob = member("viewer")
    alice_client = client_for(alice)
    client_for(bob)
    admin = client_for(member("admin", OrganisationFactory()))

    assert {t["username"] for t in alice_client.get(TOKENS_URL).json()["results"]} == {alice.username}
    assert {t["username"] for t in admin.get(TOKENS_URL).json()["results"]} >= {alice.username, bob.username}
    assert "key" not in alice_client.get(TOKENS_URL).json()["results"][0]


def test_nobody_but_the_owner_or_an_admin_revokes_a_token():
    alice, bob = member("viewer"), member("viewer")
    client_for(alice)
    alices_token = ApiToken.objects.get(user=alice)

    response = client_for(bob).delete(f"{TOKENS_URL}{alices_token.pk}/")

    assert response.status_code == 404
    alices_token.refresh_from_db()
    assert alices_token.revoked_at is None


def test_a_disabled_account_cannot_use_its_token():
    user = member("viewer")
    client = client_for(user)
    user.is_active = False
    user.save()

    assert client.get(PROTECTED).status_code == 401


def test_a_browser_session_authenticates_too():
    user = member("viewer")
    client = APIClient()
    client.force_login(user)

    assert client.get(PROTECTED).status_code == 200


def test_health_and_schema_need_no_credentials():
    client = APIClient()
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/schema/").status_code == 200


def test_a_signed_in_user_without_membership_can_still_manage_tokens():
    user = UserFactory()
    client = APIClient()
    client.force_login(user)

    assert client.get(TOKENS_URL).status_code == 200
