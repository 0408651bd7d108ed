# The two commands a newcomer needs: `make run` and `make test`. Everything else is for developers.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=
REGION ?= 140212

.PHONY: help install lock run test unit integration lint lint-openapi typecheck docs docs-check bench chaos token clean-data

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# Every dependency, direct and indirect, at the version and with the hashes of the lock files;
# then the project itself, whose dependencies the lock already holds.
$(STAMP): pyproject.toml requirements-dev.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check
	@touch $(STAMP)

install: $(STAMP) ## create the virtual environment and install what is missing

# The locks: requirements.lock (what the image runs) and requirements-dev.lock (that plus the
# dev tools, at the same versions), resolved by uv for every platform with Python 3.11+.
UV        ?= uv==0.13.9
LOCK_ARGS := --universal --python-version 3.11 --generate-hashes --no-config --quiet \
             --custom-compile-command 'make lock'
lock: ## pin every dependency with its hashes after a change in pyproject.toml (uv)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(VENV)/bin/uv || $(PY) -m pip install --quiet '$(UV)'
	$(VENV)/bin/uv pip compile pyproject.toml $(LOCK_ARGS) -o requirements.lock
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev -c requirements.lock $(LOCK_ARGS) \
		-o requirements-dev.lock

run: $(STAMP) ## nats-server (unless NATS_URL is set) and all four services on SQLite; Ctrl-C stops all
	$(PY) -m deploy.local.run $(ARGS)

token: $(STAMP) ## print a development bearer token: make token REGION=140212
	@$(PY) -m libs.common.auth --region $(REGION)

lint: $(STAMP) typecheck lint-openapi ## ruff (lint and format check), mypy, the import contracts, event schema compatibility, the OpenAPI linters
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m tools.docs.compat

lint-openapi: $(STAMP) ## Redocly (recommended) and Spectral (oas) over every service's OpenAPI document and asyncapi validate over the events', side by side (npx; its first run needs the network)
	$(PY) -m tools.openapi

typecheck: $(STAMP) ## mypy, strict
	$(VENV)/bin/mypy libs services deploy tests tools

test: lint docs-check unit integration ## lint, docs-check, then every test: unit first, then integration

unit: $(STAMP) ## the tests that start nothing (no nats-server, database or service): seconds
	$(PY) -m pytest -m "not integration" $(ARGS)

# The integration tests wait on NATS, subprocesses and stores more than they compute: they run on
# pytest-xdist workers side by side (WORKERS=0: one process, as before). `--dist loadgroup` keeps
# the tests marked `xdist_group` on one worker (the AsyncAPI models: generated once, not per worker).
WORKERS ?= 3
integration: $(STAMP) ## the tests on real NATS, SQLite and PostgreSQL, and served services (WORKERS=3 side by side)
	$(PY) -m pytest -m integration -n $(WORKERS) --dist loadgroup $(ARGS)

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
