"""Single sign-on against a real OpenID provider (django-oauth-toolkit, started by the test in its own process
on 127.0.0.1): a person's claims place them in their organisation and role; a person the claims cannot
place, and every bad ID token (signature, audience, nonce, expiry, issuer), is refused with a page saying
so, nothing is created, and the sign-in record says why."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from pilots.models import Membership, Organisation
from smartcity.models import AuditEntry, SignInEvent
from tests.factories import PASSWORD, OrganisationFactory, PrefectureFactory, member

pytestmark = pytest.mark.django_db

CLIENT_ID = "smartcity-tracker-test"
CLIENT_SECRET = "test-client-secret-" + "s" * 24
PEOPLE = {
    "zhang.wei": {"email": "zhang.wei@chengdu.example.gov.cn",
                  "claims": {"organisation": "chengdu-office", "role": "reporter"}},
    "li.na": {"email": "li.na@example.gov.cn", "claims": {"organisation": "province", "role": "reviewer"}},
    "wang.fang": {"email": "wang.fang@example.gov.cn", "claims": {"organisation": "no-such-office",
                                                                 "role": "reporter"}},
    "zhao.lei": {"email": "zhao.lei@example.gov.cn", "claims": {"organisation": "chengdu-office",
                                                               "role": "overlord"}},
    "chen.jie": {"email": "chen.jie@example.gov.cn", "claims": {"organisation": "yiwangtongguan",
                                                               "role": "integrator"}},
    "sun.li": {"email": "sun.li@example.gov.cn", "claims": {"organisation": "chengdu-office", "role": "reviewer"}},
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Provider:
    def __init__(self, state: Path, port: int):
        self.state, self.port = state, port
        self.base = f"http://127.0.0.1:{port}"
        self.issuer = f"{self.base}/o"

    def fault(self, kind: str) -> None:
        """Make the provider spoil the ID tokens it issues from now on ('' for good tokens)."""
        (self.state / "fault").write_text(kind)


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    state = tmp_path_factory.mktemp("oidc-provider")
    port = _free_port()
    env = {**os.environ, "PROVIDER_STATE_DIR": str(state), "PROVIDER_ISSUER": f"http://127.0.0.1:{port}/o",
           "PROVIDER_PORT": str(port), "PROVIDER_CLIENT_ID": CLIENT_ID, "PROVIDER_CLIENT_SECRET": CLIENT_SECRET,
           "PROVIDER_REDIRECT_URI": "http://testserver/oidc/callback/", "PROVIDER_PEOPLE": json.dumps(PEOPLE)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    process = subprocess.Popen([sys.executable, "-m", "tests.oidc_provider.serve"], cwd=django_settings.BASE_DIR,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        if line.strip() != "ready":
            process.kill()
            raise AssertionError(f"the test provider did not start: {line!r} {process.stderr.read()}")
        yield Provider(state, port)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def sso(provider, settings):
    settings.OIDC_ISSUER = provider.issuer
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{provider.issuer}/authorize/"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{provider.issuer}/token/"
    settings.OIDC_OP_USER_ENDPOINT = f"{provider.issuer}/userinfo/"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{provider.issuer}/.well-known/jwks.json"
    settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, "smartcity.auth.oidc.SmartcityOIDCBackend"]
    provider.fault("")
    OrganisationFactory(code="province")
    OrganisationFactory(code="chengdu-office", kind="prefecture",
                        prefecture=PrefectureFactory(code="510100", name_zh="成都市"))
    OrganisationFactory(code="yiwangtongguan", kind="integrator")
    yield provider
    provider.fault("")


def sign_in_with_sso(provider, username, *, browser=None):
    """A person's browser: our sign-in button, the provider's sign-in, and back to our callback."""
    browser = browser or Client()
    start = browser.get("/oidc/authenticate/", {"next": "/dashboard/"})
    assert start.status_code == 302, start
    authorize = start["Location"]
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(provider.issuer + "/authorize/")
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"] and query["nonce"]
    at_provider = requests.Session()
    at_provider.get(f"{provider.base}/login/as/{username}/", allow_redirects=False, timeout=10)
    back = at_provider.get(authorize, allow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text[:500]
    callback = urlsplit(back.headers["Location"])
    assert f"{callback.scheme}://{callback.netloc}{callback.path}" == "http://testserver/oidc/callback/"
    return browser, browser.get(callback.path, parse_qs(callback.query))


def test_a_prefecture_clerk_signs_in_with_sso_and_lands_in_their_office_as_a_reporter(sso):
    browser, response = sign_in_with_sso(sso, "zhang.wei")

    assert response.status_code == 302, response.content.decode().split("sso-refusal")[-1][:400]
    assert response["Location"] == "/dashboard/"
    clerk = get_user_model().objects.get(username="zhang.wei")
    assert (clerk.membership.organisation.code, clerk.membership.role) == ("chengdu-office", "reporter")
    assert not clerk.has_usable_password() and clerk.email == "zhang.wei@chengdu.example.gov.cn"
    assert browser.get("/dashboard/prefectures/510100/").status_code == 200  # its own office, signed in
    row = SignInEvent.objects.get(username="zhang.wei")
    assert (row.event, row.via, row.result) == ("sign_in", "sso", "success")
    assert AuditEntry.objects.filter(object_type="pilots.membership", action="create").count() == 1


def test_the_providers_claims_win_at_every_sign_in(sso):
    reviewer = member("viewer", Organisation.objects.get(code="province"), username="li.na")

    sign_in_with_sso(sso, "li.na")

    reviewer.refresh_from_db()
    assert reviewer.membership.role == "reviewer"
    assert AuditEntry.objects.filter(object_type="pilots.membership", action="update").count() == 1


@pytest.mark.parametrize(("username", "says"), [
    ("wang.fang", "no-such-office"),
    ("zhao.lei", "overlord"),
    ("chen.jie", "API"),
    ("sun.li", "reviewer"),  # a role not held in a prefecture office
])
def test_a_person_the_claims_cannot_place_is_refused_with_a_page_that_says_why(sso, username, says):
    browser, response = sign_in_with_sso(sso, username)

    assert response.status_code == 403
    text = response.content.decode()
    assert 'id="sso-refusal"' in text and says in text
    assert Membership.objects.filter(user__username=username).count() == 0
    assert "_auth_user_id" not in browser.session
    row = SignInEvent.objects.get(via="sso")
    assert (row.result, row.reason) == ("failure", "sso_refused")


@pytest.mark.parametrize(("fault", "says"), [
    ("signature", "signature"),
    ("audience", "aud"),
    ("nonce", "Nonce"),
    ("expiry", "exp"),
    ("issuer", "iss"),
])
def test_a_bad_id_token_is_refused_and_creates_no_one(sso, fault, says):
    sso.fault(fault)

    browser, response = sign_in_with_sso(sso, "zhang.wei")

    assert response.status_code == 403
    assert says in response.content.decode()
    assert not get_user_model().objects.filter(username="zhang.wei").exists()
    assert "_auth_user_id" not in browser.session
    row = SignInEvent.objects.get(via="sso")
    assert (row.result, row.reason) == ("failure", "sso_invalid")


def test_a_deactivated_person_is_refused_at_once(sso):
    browser, _ = sign_in_with_sso(sso, "zhang.wei")
    clerk = get_user_model().objects.get(username="zhang.wei")
    clerk.is_active = False
    clerk.save()

    assert browser.get("/dashboard/").status_code == 302  # the open session ends at once

    _browser, response = sign_in_with_sso(sso, "zhang.wei")

    assert response.status_code == 403
    assert SignInEvent.objects.filter(via="sso", reason="inactive").count() == 1


def test_with_local_passwords_off_people_use_sso_and_the_api_keeps_its_tokens(sso, settings):
    settings.LOCAL_PASSWORD_SIGN_IN = False
    member("reporter", username="pref-510100")

    page = Client().get("/accounts/login/").content.decode()
    refused = Client().post("/accounts/login/", {"username": "pref-510100", "password": PASSWORD})
    token = APIClient().post("/api/v1/auth/token/", {"username": "pref-510100", "password": PASSWORD},
                             format="json")

    assert 'id="sso-sign-in"' in page and 'id="id_password"' not in page
    assert refused.status_code == 200 and "_auth_user_id" not in refused.client.session
    assert SignInEvent.objects.get(via="dashboard").reason == "passwords_off"
    assert token.status_code == 201


def test_without_configuration_there_is_no_single_sign_on(settings):
    settings.OIDC_ISSUER = ""
    assert Client().get("/oidc/authenticate/").status_code == 404
    assert Client().get("/oidc/callback/", {"code": "x", "state": "y"}).status_code == 404
    assert 'id="sso-sign-in"' not in Client().get("/accounts/login/").content.decode()
