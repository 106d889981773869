# Two commands for a newcomer: `make up` (the whole stack) and `make test` (the suite).
# Everything else here is what those two are made of.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: up test install services migrate seed bench down lint format clean

$(STAMP): requirements/lock.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/lock.txt
	@touch $@

install: $(STAMP)

services: install
	$(PY) scripts/devservices.py ensure

up: install
	$(PY) scripts/stack.py

test: services
	$(PY) -m pytest

migrate: services
	$(PY) manage.py migrate_schemas --shared --noinput
	$(PY) manage.py migrate_schemas --tenant --executor=multiprocessing --noinput

seed: migrate
	$(PY) manage.py seed_demo

bench: services
	$(PY) -m pip install --quiet -r requirements/bench.txt
	$(PY) bench/provision.py
	$(PY) bench/task_overhead.py
	$(PY) bench/beat_scale.py
	$(PY) bench/sessions.py

down:
	$(PY) scripts/devservices.py stop

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
