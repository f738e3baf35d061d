"""An integrator can build a client from the spec alone, with no internet."""

import re

import pytest
import yaml
from django.core.management import call_command
from openapi_spec_validator import validate
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def spec(django_db_blocker):
    from io import StringIO

    out = StringIO()
    with django_db_blocker.unblock():
        # --fail-on-warn turns any drf-spectacular warning into a failure of this fixture.
        call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return yaml.safe_load(out.getvalue())


def test_the_schema_is_valid_openapi_3(spec):
    assert spec["openapi"].startswith("3.")
    validate(spec)


def test_every_operation_has_a_summary_and_documents_its_errors(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            assert operation.get("summary") or operation.get("description"), f"{method} {path} undocumented"
            responses = operation["responses"]
            if operation.get("security") != []:
                assert {"401", "403"} <= set(responses), f"{method} {path} lacks 401/403"
            for code, response in responses.items():
                if code.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, f"{method} {path} {code}"


def test_public_endpoints_are_marked_as_needing_no_credentials(spec):
    assert spec["paths"]["/api/v1/auth/token/"]["post"]["security"] == []


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_the_documentation_pages_load_their_assets_locally(page):
    html = APIClient().get(page).content.decode()

    assert "/api/schema/" in html
    external = [url for url in re.findall(r'(?:src|href)="(https?://[^"]+)"', html)]
    assert external == []
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert APIClient().get(asset).status_code == 200, asset
