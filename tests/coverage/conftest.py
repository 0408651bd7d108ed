"""Coverage served for real, and its store at head, on a nats-server of its own and each store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from libs.common.db import Database
from services.coverage.app import definition
from services.coverage.settings import CoverageSettings
from tests.harness import NatsServer, RunningService, ServiceDatabases, serve


@pytest.fixture(scope="session")
def coverage_nats() -> Iterator[NatsServer]:
    """A nats-server for the served coverage, for the session. Not the shared one: there the
    registry tests leave PB_REGISTRY events, which coverage's durable consumer would project into
    the database of the first coverage test after them (its figures would then not be its own)."""
    server = NatsServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
async def coverage(
    coverage_nats: NatsServer, service_databases: ServiceDatabases
) -> AsyncIterator[RunningService]:
    settings = CoverageSettings(
        database_url=await service_databases.url("coverage"), nats_url=coverage_nats.url
    )
    async with serve(definition(settings)) as service:
        yield service


@pytest.fixture
async def db(service_databases: ServiceDatabases) -> AsyncIterator[Database]:
    """The coverage store at the head of its migrations (a copy of the run's template)."""
    database = Database(await service_databases.url("coverage"), source="/pb/coverage-test")
    yield database
    await database.dispose()
