"""The registry served for real (uvicorn, httpx) on the test nats-server and each store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.registry.app import definition
from services.registry.settings import RegistrySettings
from tests.harness import NatsServer, RunningService, ServiceDatabases, serve


@pytest.fixture
async def registry(
    nats_server: NatsServer, service_databases: ServiceDatabases
) -> AsyncIterator[RunningService]:
    settings = RegistrySettings(
        database_url=await service_databases.url("registry"), nats_url=nats_server.url
    )
    async with serve(definition(settings)) as service:
        yield service
