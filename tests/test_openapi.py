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


def test_every_paginated_list_documents_a_page_past_the_last(spec):
    """Found by contract fuzzing: ``?page=999`` answers 404, which the lists did not document."""
    paginated = []
    for path, item in spec["paths"].items():
        body = item.get("get", {}).get("responses", {}).get("200", {}).get("content", {}).get("application/json", {})
        if body.get("schema", {}).get("$ref", "").startswith("#/components/schemas/Paginated"):
            paginated.append((path, item["get"]))
    assert paginated
    for path, operation in paginated:
        assert "404" in operation["responses"], f"GET {path}"


def test_evidence_downloads_are_documented_as_the_types_they_are_served_as(spec):
    """Found by contract fuzzing: a PDF came back as application/pdf, documented as application/octet-stream."""
    from pilots.services.evidence import EVIDENCE_TYPES

    download = spec["paths"]["/api/v1/reports/{id}/attachments/{attachment_id}/"]["get"]
    assert set(download["responses"]["200"]["content"]) == {content_type for content_type, _ in EVIDENCE_TYPES.values()}
