"""Settings come from a strict environment; production settings pass Django's deployment checks."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import yaml
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
# What `manage.py check --deploy` must accept without a single warning (also `make check-deploy`).
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "example.org",
    "CSRF_TRUSTED_ORIGINS": "https://example.org",
    "SITE_URL": "https://example.org",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "BEHIND_TLS_PROXY": "true",
}


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """Run Python in a fresh process whose environment is the caller's minus everything settings read."""
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "PYTEST_VERSION"}}
    clean["DJANGO_SETTINGS_MODULE"] = "smartcity.settings"
    clean.update(env)
    return subprocess.run([sys.executable, *args], check=False, cwd=BASE_DIR, env=clean, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_production_without_secret_key_refuses_to_start():
    result = _run(["-c", "import smartcity.settings"], DEBUG="false")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY must be set" in result.stderr


def test_production_is_the_default_when_debug_is_unset():
    result = _run(["-c", "import smartcity.settings"])

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_must_be_a_boolean():
    result = _run(["-c", "import smartcity.settings"], DEBUG="maybe", SECRET_KEY=secrets.token_urlsafe(50))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_production_settings_pass_check_deploy_without_warnings():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


def test_openapi_schema_validates_without_warnings(tmp_path):
    schema = tmp_path / "openapi.yaml"

    result = _run(["manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(schema)], DEBUG="true")

    assert result.returncode == 0, result.stdout + result.stderr
    document = yaml.safe_load(schema.read_text())
    assert document["openapi"].startswith("3.")
    assert document["paths"]


def test_env_example_documents_every_variable_the_settings_read():
    source = (BASE_DIR / "smartcity" / "settings.py").read_text()
    read = set(re.findall(r"env_(?:str|bool|int|list)\(\s*\"([A-Z0-9_]+)\"", source))
    documented = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", (BASE_DIR / ".env.example").read_text(), re.MULTILINE))

    assert read, "found no env_*() calls in settings.py"
    assert read - documented == set(), "add these to .env.example"
