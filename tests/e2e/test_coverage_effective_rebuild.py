"""Effective coverage survives a rebuild: PB_REGISTRY then PB_TRAINING replayed give the live
projection back, the routine's lapses and the `effective` counters included (real NATS)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from libs.common.db import Database
from services.coverage.rebuild import rebuild
from services.coverage.settings import CoverageSettings
from services.coverage.store.tables import routine_lapses
from tests.coverage.feed import ProducerStream
from tests.coverage.test_effective_api import D, county, effective_becomes, judgements
from tests.coverage.test_rates_api import coverage_service
from tests.coverage.training_feed import lapsed, restored
from tests.e2e.test_coverage_rebuild import projection_state
from tests.harness import NatsServer, ServiceDatabases


async def lapses(url: str) -> list[tuple[object, ...]]:
    db = Database(url, source="/pb/test")
    try:
        async with db.read() as session:
            rows = await session.execute(select(routine_lapses))
            return sorted(
                tuple(v for k, v in row.items() if k != "updated_at") for row in rows.mappings()
            )
    finally:
        await db.dispose()


async def test_rebuild_replays_training_after_the_registry(
    private_nats: NatsServer, service_databases: ServiceDatabases
) -> None:
    database_url = await service_databases.url("coverage")
    settings = CoverageSettings(database_url=database_url, nats_url=private_nats.url)
    august = lapsed("b-a", "2026-08", "org-0")
    async with (
        coverage_service(private_nats, database_url, calendar_day=D) as (service, registry),
        ProducerStream.on(private_nats.url, "training") as training,
    ):
        await training.publish(*judgements())
        await registry.publish(*county())
        await training.publish(restored(august, date(2026, 8, 30), period_met=True))
        await effective_becomes(service, (4, 5, 6))
    live = await projection_state(database_url)
    live_lapses = await lapses(database_url)
    assert live["rollups"] == live["recount"]
    assert len(live_lapses) == 4  # b-a August (met) and October, b-b Q3 (met), b-d September

    lines: list[str] = []
    report = await rebuild(settings, batch_size=4, progress=lines.append)
    assert report.applied == len(judgements()) + len(county()) + 1
    assert lines[0].startswith("rebuilding from PB_REGISTRY")
    assert lines[1].startswith("rebuilding from PB_TRAINING: sequences 1..7")
    assert await projection_state(database_url) == live
    assert await lapses(database_url) == live_lapses
