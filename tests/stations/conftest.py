"""The stations service served for real (uvicorn, httpx) on the test nats-server and each store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.stations.app import definition
from services.stations.settings import StationsSettings
from tests.harness import NatsServer, RunningService, ServiceDatabases, serve


@pytest.fixture
async def stations(
    nats_server: NatsServer, service_databases: ServiceDatabases
) -> AsyncIterator[RunningService]:
    settings = StationsSettings(
        database_url=await service_databases.url("stations"), nats_url=nats_server.url
    )
    async with serve(definition(settings)) as service:
        yield service
