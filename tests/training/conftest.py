"""The training service served for real (uvicorn, httpx) on a nats-server of its own and each
store, with a publisher of registry events beside it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from services.training.app import definition
from services.training.settings import TrainingSettings
from tests.coverage.feed import ProducerStream
from tests.harness import NatsServer, RunningService, ServiceDatabases, serve


@dataclass
class Training:
    service: RunningService
    registry: ProducerStream
    nats_url: str
    database_url: str


@pytest.fixture
async def training(
    private_nats: NatsServer, service_databases: ServiceDatabases
) -> AsyncIterator[Training]:
    """A nats-server of the test's own: the service's durable consumer of PB_REGISTRY must not
    see other tests' registry events."""
    url = await service_databases.url("training")
    settings = TrainingSettings(
        database_url=url, nats_url=private_nats.url, routine_check_seconds=3600
    )
    async with ProducerStream.on(private_nats.url) as stream, serve(definition(settings)) as s:
        yield Training(s, stream, private_nats.url, url)
