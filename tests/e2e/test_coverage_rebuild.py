"""The coverage projection rebuilt from the registry stream equals the live one (real NATS), an
import's events carrying several files included."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from libs.common.db import Database
from libs.common.events import Envelope
from services.coverage.domain.rollups import RollupDelta
from services.coverage.rebuild import rebuild
from services.coverage.settings import CoverageSettings
from services.coverage.store.projection import ProjectionRepository
from services.coverage.store.tables import (
    branch_organizations,
    branches,
    instructor_assignments,
    mass_organizations,
    organization_facts,
    rebuilds,
)
from tests.coverage.feed import Ledger, ProducerStream, imported, registered
from tests.coverage.test_rates_api import coverage_service, population, settled
from tests.harness import NatsServer, ServiceDatabases

ROOT = Path(__file__).resolve().parents[2]


async def projection_state(url: str) -> dict[str, Any]:
    """Everything the projection holds but the time each row was written."""
    db = Database(url, source="/pb/test")
    try:
        async with db.read() as session:
            facts = sorted(
                tuple(v for k, v in row.items() if k != "updated_at")
                for row in (await session.execute(select(organization_facts))).mappings()
            )
            links = {
                table.name: sorted(
                    tuple(v for k, v in row.items() if k != "updated_at")
                    for row in (await session.execute(select(table))).mappings()
                )
                for table in (
                    branches,
                    branch_organizations,
                    instructor_assignments,
                    mass_organizations,
                )
            }
            repository = ProjectionRepository(session)
            rollups = await repository.stored_rollups()
            stored = await repository.organizations(
                [r for (r,) in await session.execute(select(organization_facts.c.organization_id))]
            )
        recount = RollupDelta()
        for organization in stored.values():
            recount.add(organization.facts, +1)
        return {"facts": facts, "links": links, "rollups": rollups, "recount": recount.rows()}
    finally:
        await db.dispose()


async def publish_unreadable(stream: ProducerStream) -> None:
    """Three messages coverage cannot apply: no CloudEvents envelope, data its model rejects, and
    an event type it does not read."""
    envelope = Envelope.wrap(registered(900), source=stream.source)
    await stream.js.publish(envelope.type, b'{"organization_id": "o900"}')
    await stream.publish_envelopes([dataclasses.replace(envelope, data=b'{"version": "x"}')])
    other = dataclasses.replace(envelope, id=f"{envelope.id}-other", type="pb.registry.other.v1")
    await stream.publish_envelopes([other])


async def test_rebuild_from_the_stream_equals_the_live_projection(
    private_nats: NatsServer, service_databases: ServiceDatabases
) -> None:
    database_url = await service_databases.url("coverage")
    ledger = Ledger()
    events = population()
    # Out of order and twice: the registry's stream is what both projections read.
    extra = [registered(100 + n, full_members=n % 2) for n in range(30)]
    ledger.apply(*events, *extra)
    # ... and an import's files, four to an event
    carriers = [imported(*extra[i : i + 4]) for i in range(0, len(extra), 4)]
    async with coverage_service(private_nats, database_url) as (service, stream):
        await stream.publish(*reversed(events))
        await stream.publish(*carriers, *events[::3])
        await publish_unreadable(stream)
        await settled(service, ledger, "14")
        await settled(service, ledger, "14", organization_scope="three_haves")
    live = await projection_state(database_url)
    assert live["rollups"] == live["recount"]  # incremental roll-ups = a count from the facts
    assert len(live["facts"]) == 70

    settings = CoverageSettings(database_url=database_url, nats_url=private_nats.url)
    lines: list[str] = []
    report = await rebuild(settings, batch_size=16, progress=lines.append)
    assert report.applied == len(events) + len(carriers) + len(events[::3])
    assert report.skipped == 3  # as the live consumer does, which dead-letters them
    assert lines[0].startswith("rebuilding from PB_REGISTRY: sequences 1..")
    assert lines[-1].startswith("rebuilt:")
    assert await projection_state(database_url) == live

    # An interrupted rebuild resumes where its progress says, and still ends equal.
    db = Database(database_url, source="/pb/test")
    try:
        async with db.unit_of_work() as uow:
            await uow.session.execute(update(rebuilds).values(last_sequence=40, finished_at=None))
    finally:
        await db.dispose()
    resumed: list[str] = []
    await rebuild(settings, resume=True, batch_size=16, progress=resumed.append)
    assert resumed[0].startswith("resuming PB_REGISTRY at sequence 41")
    assert await projection_state(database_url) == live

    # The operator's command does the same (two interpreters start: its own and the reader's).
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.coverage",
        "rebuild",
        "--batch-size",
        "50",
        cwd=ROOT,
        env={**os.environ, "PB_COVERAGE_DATABASE_URL": database_url, "NATS_URL": private_nats.url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode == 0, output.decode()
    assert "rebuilt:" in output.decode()
    assert await projection_state(database_url) == live
