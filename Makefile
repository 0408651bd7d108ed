# The two commands a newcomer needs: `make run` and `make test`. Everything else is for developers.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=
REGION ?= 140212

.PHONY: help install run test unit integration lint typecheck docs docs-check bench chaos token clean-data

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create the virtual environment and install what is missing

run: $(STAMP) ## nats-server (unless NATS_URL is set) and all four services on SQLite; Ctrl-C stops all
	$(PY) -m deploy.local.run $(ARGS)

token: $(STAMP) ## print a development bearer token: make token REGION=140212
	@$(PY) -m libs.common.auth --region $(REGION)

lint: $(STAMP) typecheck ## ruff (lint and format check), mypy and the import contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(STAMP) ## mypy, strict
	$(VENV)/bin/mypy libs services deploy tests tools

test: lint docs-check unit integration ## lint, docs-check, then every test: unit first, then integration

unit: $(STAMP) ## the tests that start nothing (no nats-server, database or service): seconds
	$(PY) -m pytest -m "not integration" $(ARGS)

integration: $(STAMP) ## the tests on real NATS, SQLite and PostgreSQL, and served services
	$(PY) -m pytest -m integration $(ARGS)

docs: $(STAMP) ## write the AsyncAPI document and JSON Schemas of every event to docs/events/
	$(PY) -m tools.docs docs/events

docs-check: $(STAMP) ## fail when docs/events/ is not what the catalogue produces
	$(PY) -m tools.docs docs/events --check

bench: $(STAMP) ## benchmarks, printing their figures
	$(PY) -m tests.bench $(ARGS)

chaos: $(STAMP) ## fault suite: kill nats-server, services, PostgreSQL links under load; check nothing lost (ARGS='--short', '--store postgresql')
	$(PY) -m tools.chaos $(ARGS)

clean-data: ## forget the local databases and NATS store of `make run`
	rm -rf .data
