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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.parent.name
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & REAL_THINGS or folder in INTEGRATION_FOLDERS:
            item.add_marker(pytest.mark.integration)


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
