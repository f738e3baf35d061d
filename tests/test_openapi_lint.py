"""The spec passes a standard OpenAPI linter: Redocly CLI's recommended ruleset (redocly.yaml), no errors.

An integrator's code generator or gateway runs such a linter first; a spec it rejects cannot be used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command

from tests.helpers import missing_tool

pytestmark = pytest.mark.django_db

REDOCLY = Path(settings.BASE_DIR) / "node_modules" / ".bin" / "redocly"


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return path


def test_an_integrators_linter_finds_no_error_in_the_spec(spec_file):
    if shutil.which("npx") is None or not REDOCLY.exists():
        message = "the npm packages are missing (npm ci installs @redocly/cli; `make install` runs it)"
        missing_tool(message)
    result = subprocess.run(
        ["npx", "--no-install", "redocly", "lint", "--config", str(Path(settings.BASE_DIR) / "redocly.yaml"),
         "--format", "stylish", str(spec_file)],
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=300,
        env={**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " error " not in result.stdout


def test_every_nullable_schema_names_its_type(spec_file):
    """OpenAPI 3.0.3: ``nullable`` means nothing without a ``type`` beside it (the import receipt had none)."""
    untyped = []

    def visit(node, where):
        if isinstance(node, dict):
            if node.get("nullable") is True and "type" not in node:
                untyped.append(where)
            for key, value in node.items():
                visit(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                visit(value, f"{where}/{index}")

    visit(yaml.safe_load(spec_file.read_text()), "#")
    assert untyped == []
