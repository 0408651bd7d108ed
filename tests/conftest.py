"""Fixtures that start real things, shared by every test: nats-server, databases, services."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.harness import NatsServer, postgres_available, postgres_database

IN_CI = os.environ.get("CI", "").lower() == "true"


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


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each database test runs on SQLite and on PostgreSQL (required under CI=true)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        return
    if not await postgres_available():
        if IN_CI:
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is required under CI=true")
        pytest.skip("PostgreSQL is not reachable")
    async with postgres_database() as url:
        yield url


@pytest.fixture
async def second_database_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A second store of the same kind, for a second service in the same test."""
    if database_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'second.db'}"
        return
    async with postgres_database() as url:
        yield url
