# Two commands for a newcomer: `make up` (the whole stack) and `make test` (the suite).
# Everything else here is what those two are made of.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: up test test-fast test-tools install lock compose-check services migrate seed bench down lint format clean

# Development machines and CI run tests and lint: the dev lock (runtime + dev pins, hashed).
$(STAMP): requirements/dev.txt requirements/runtime.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements/dev.txt
	@touch $@

install: $(STAMP)

# Regenerate requirements/runtime.txt and requirements/dev.txt (pins + hashes) from pyproject.toml,
# against PyPI only (PIP_CONFIG_FILE=/dev/null: no local index, so the hashes are PyPI's files).
# Existing pins are kept; move them with `make lock LOCK_ARGS=--upgrade` (or --upgrade-package X).
PIP_COMPILE = PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= CUSTOM_COMPILE_COMMAND="make lock" \
	$(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--index-url https://pypi.org/simple $(LOCK_ARGS)
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet pip-tools==7.6.2
	$(PIP_COMPILE) --output-file requirements/runtime.txt pyproject.toml
	$(PIP_COMPILE) --extra dev --constraint requirements/runtime.txt \
		--output-file requirements/dev.txt pyproject.toml

services: install
	$(PY) scripts/devservices.py ensure

up: install
	$(PY) scripts/stack.py

# What the tests drive beside Python — Chromium (browser tests), nginx (X-Accel-Redirect) and
# pdftoppm (report pages): found, or installed (scripts/suite_tools.py); never a skipped test.
test-tools: install
	$(PY) scripts/suite_tools.py ensure

test: services test-tools
	$(PY) -m pytest

# The quick loop: everything but the real-worker and subprocess tests.
test-fast: services test-tools
	$(PY) -m pytest -m "not slow"

# The portal's CSS framework (Pico CSS) and the browser tests' axe-core, from the npm registry
# at the versions locked in assets/package-lock.json, copied into place as built files that are
# committed: the Docker image, `make up` and `make test` need no Node. Run after changing a
# version in assets/package.json (then `npm install` there to update the lock), and commit.
.PHONY: assets
assets:
	cd assets && npm ci --no-audit --no-fund
	mkdir -p portal/static/portal/vendor tests/browser/vendor
	cp assets/node_modules/@picocss/pico/css/pico.min.css portal/static/portal/vendor/pico.min.css
	cp assets/node_modules/@picocss/pico/LICENSE.md portal/static/portal/vendor/pico.LICENSE.md
	cp assets/node_modules/axe-core/axe.min.js tests/browser/vendor/axe.min.js
	cp assets/node_modules/axe-core/LICENSE tests/browser/vendor/axe-core.LICENSE
	cp assets/node_modules/axe-core/LICENSE-3RD-PARTY.txt tests/browser/vendor/axe-core.LICENSE-3RD-PARTY.txt

# Migrations (public, then every tenant in parallel), the platform tenant and the staff roles;
# the same command docker-compose's migrate service runs, safe to run again.
migrate: services
	$(PY) manage.py platform_init

seed: migrate
	$(PY) manage.py seed_demo

bench: services
	$(PY) -m pip install --quiet -r requirements/bench.txt
	$(PY) bench/provision.py
	$(PY) bench/task_overhead.py
	$(PY) bench/beat_scale.py
	$(PY) bench/sessions.py
	$(PY) bench/soak.py
	$(PY) bench/downloads.py
	$(PY) bench/reports.py
	$(PY) bench/backups.py
	$(PY) bench/imports.py

# What docker-compose.yml runs, without Docker, on a fresh database (DEBUG=0).
compose-check: services
	scripts/compose_check.sh

down:
	$(PY) scripts/devservices.py stop

# The same checks as .pre-commit-config.yaml: style, the layering contract, types.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
