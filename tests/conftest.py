"""Fixtures that start real things, shared by every test: nats-server, databases, services.

A test whose fixtures start any of them is marked `integration` (`make unit` runs the others).
Each store test runs on SQLite and on PostgreSQL through the `store` parameter; a test that
needs a store but does not test it takes `sqlite_url`, or narrows the parameter with
`tests.harness.SQLITE_ONLY`. A service's own database comes from `service_databases`: a copy of
the service's template, migrated once per run.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from tests.harness import (
    NatsServer,
    ServiceDatabases,
    postgres_available,
    postgres_database,
    templates,
)

IN_CI = os.environ.get("CI", "").lower() == "true"

# Consumers in tests pull with short waits: a stop waits for the pull under way (nats-py's fetch
# does not survive cancellation), and the production second per stop is most of a served
# coverage test's teardown.
os.environ.setdefault("PB_INBOX_FETCH_SECONDS", "0.2")

#: Fixtures that start a process or open a database: a test using any of them (directly or
#: through another fixture) is an integration test.
REAL_THINGS = frozenset({"nats_server", "private_nats", "store", "sqlite_url"})
#: Folders whose tests are integration tests whatever their fixtures (they start their own).
INTEGRATION_FOLDERS = ("e2e",)


#: The slowest tests, longest first (node id prefixes; from `--durations` of `make integration`).
#: `make integration` runs the tests on pytest-xdist workers, which take them in collection order:
#: these go first, so that none of them starts last and keeps the run going on one worker while
#: the other has nothing left to do.
SLOWEST_FIRST = (
    "tests/e2e/test_chaos.py::test_nothing_lost_or_doubled_through_every_fault",
    "tests/contracts/test_schemathesis.py",
    "tests/contracts/test_asyncapi_models.py",
    "tests/e2e/test_coverage_dates.py",
    "tests/registry/test_imports_kill.py",
    "tests/e2e/test_coverage_rebuild.py",
    "tests/deploy/test_local_run.py::test_make_run_starts_again",
    "tests/coverage/test_worker_crash.py",
    "tests/e2e/test_coverage_effective_flow.py",
    "tests/e2e/test_member_intake_flow.py",
    "tests/common/test_recovery.py",
    "tests/common/test_migrations.py::test_two_migrate_runs_at_once",
)


def _slowness_rank(item: pytest.Item) -> int:
    """The item's place in SLOWEST_FIRST; every other test after them, in collection order."""
    for rank, prefix in enumerate(SLOWEST_FIRST):
        if item.nodeid.startswith(prefix):
            return rank
    return len(SLOWEST_FIRST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.parent.name
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & REAL_THINGS or folder in INTEGRATION_FOLDERS:
            item.add_marker(pytest.mark.integration)
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: every worker sorts alike
        items.sort(key=_slowness_rank)  # stable: the rest keep their order


def pytest_sessionfinish(session: pytest.Session) -> None:
    if templates.postgres or templates.sqlite:
        asyncio.run(templates.drop())


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    """One nats-server for the session; tests keep apart by using their own names."""
    server = NatsServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
def private_nats() -> Iterator[NatsServer]:
    """A nats-server of the test's own, for tests that stop and restart it."""
    server = NatsServer()
    server.start()
    yield server
    server.close()


_postgres_reachable: bool | None = None


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest) -> str:
    """The kind of store a test runs on: each store test runs on both (PostgreSQL is required
    under CI=true, skipped elsewhere when it is not reachable)."""
    global _postgres_reachable
    kind: str = request.param
    if kind == "postgresql":
        if _postgres_reachable is None:
            _postgres_reachable = await postgres_available()
        if not _postgres_reachable:
            if IN_CI:
                pytest.fail("PostgreSQL at 127.0.0.1:5432 is required under CI=true")
            pytest.skip("PostgreSQL is not reachable")
    return kind


@pytest.fixture
async def database_url(store: str, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database on the test's store."""
    if store == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        return
    async with postgres_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file, for a test that needs a store but does not test it: one run."""
    return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
async def service_databases(store: str, tmp_path: Path) -> AsyncIterator[ServiceDatabases]:
    """`await service_databases.url("registry")`: the registry's database in this test, a copy
    of its template (migrated once per run) instead of a fresh database migrated again."""
    async with AsyncExitStack() as stack:
        yield ServiceDatabases(store, tmp_path, stack)
