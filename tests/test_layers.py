"""The layers point one way: the import contracts of ``pyproject.toml`` hold, and an upward import breaks them.

``lint-imports`` (import-linter) reads ``[tool.importlinter]``; .ci/run runs it too, so a new import from the
platform into a domain app, or from a service into the API, fails CI before it is merged.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("smartcity", "tasks_app", "pilots")


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--config", str(cwd / "pyproject.toml"), "--no-cache"], cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)


def test_every_layer_contract_holds_in_the_tree():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 broken" in result.stdout


def test_a_platform_module_that_imports_the_domain_breaks_the_contract(tmp_path):
    # A copy of the code with one upward import added: the access policy reaching for the registry's models.
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "static",
                                                                                          "templates"))
    access = tmp_path / "smartcity" / "auth" / "access.py"
    access.write_text(access.read_text() + "\nfrom pilots.models import Membership  # noqa: E402,F401\n")

    result = _lint_imports(tmp_path)

    assert result.returncode != 0
    assert "The platform (smartcity) imports no domain app BROKEN" in result.stdout
    assert "smartcity.auth.access -> pilots.models" in result.stdout
