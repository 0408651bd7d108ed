"""Coverage served for real, and its store at head, on the test nats-server and each store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from libs.common.db import Database
from services.coverage.app import definition
from services.coverage.settings import CoverageSettings
from tests.harness import NatsServer, RunningService, ServiceDatabases, serve


@pytest.fixture
async def coverage(
    nats_server: NatsServer, service_databases: ServiceDatabases
) -> AsyncIterator[RunningService]:
    settings = CoverageSettings(
        database_url=await service_databases.url("coverage"), nats_url=nats_server.url
    )
    async with serve(definition(settings)) as service:
        yield service


@pytest.fixture
async def db(service_databases: ServiceDatabases) -> AsyncIterator[Database]:
    """The coverage store at the head of its migrations (a copy of the run's template)."""
    database = Database(await service_databases.url("coverage"), source="/pb/coverage-test")
    yield database
    await database.dispose()
