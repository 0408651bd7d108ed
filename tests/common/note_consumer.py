"""A consumer of notes for the recovery tests, run in the test or as a process of its own.

`python -m tests.common.note_consumer NATS_URL DATABASE_URL SERVICE ACK_WAIT` runs one that
takes its first batch, prints `holding <n>` and then works on it for ever (its in-progress
extensions going out all the while), for the test to kill with SIGKILL.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

from opentelemetry import trace
from pydantic import BaseModel
from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from libs.common.broker import BrokerLink
from libs.common.db import Database, UnitOfWork
from libs.common.events import Envelope
from libs.common.inbox import ConsumerSpec, InboxConsumer
from libs.common.metrics import ServiceMetrics
from libs.common.settings import ServiceSettings

note_metadata = MetaData()
notes = Table(
    "notes",
    note_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("value", String(50), nullable=False),
)


class Noted(BaseModel):
    value: str


def note_type(service: str) -> str:
    return f"pb.{service}.note.made.v1"


def note_settings(
    nats_url: str, database_url: str, service: str, ack_wait: float
) -> ServiceSettings:
    return ServiceSettings(
        service_name=service,
        database_url=database_url,
        nats_url=nats_url,
        inbox_ack_wait_seconds=ack_wait,
        inbox_batch_size=100,
    )


Before = Callable[[list[tuple[Envelope, Noted]]], Awaitable[None]]


def note_spec(service: str, before: Before | None = None) -> ConsumerSpec[UnitOfWork]:
    """The notes consumer: a batch handler writing one row per note; `before` runs first (to
    hold or slow a batch)."""
    spec = ConsumerSpec[UnitOfWork](name=f"{service}-notes", stream=f"PB_{service.upper()}")

    @spec.on_batch(note_type(service), Noted)
    async def on_notes(uow: UnitOfWork, items: list[tuple[Envelope, Noted]]) -> None:
        if before is not None:
            await before(items)
        await uow.session.execute(
            insert(notes), [{"event_id": e.id, "value": n.value} for e, n in items]
        )

    return spec


def note_consumer(
    settings: ServiceSettings, db: Database, link: BrokerLink, before: Before | None = None
) -> InboxConsumer:
    metrics = ServiceMetrics(settings.service_name)
    spec = note_spec(settings.service_name, before)
    return InboxConsumer(spec, db, link, settings, metrics, trace.get_tracer("test"))


async def hold_first_batch(nats_url: str, database_url: str, service: str, ack_wait: float) -> None:
    settings = note_settings(nats_url, database_url, service, ack_wait)

    async def hold(items: list[tuple[Envelope, Noted]]) -> None:
        print(f"holding {len(items)}", flush=True)
        await asyncio.sleep(3600)

    db = Database(database_url, source=f"/pb/{service}")
    link = BrokerLink(settings)
    link.start()
    await asyncio.wait_for(link.ready.wait(), 20)
    note_consumer(settings, db, link, hold).start()
    await asyncio.sleep(3600)


if __name__ == "__main__":
    nats_url, database_url, service, ack_wait = sys.argv[1:5]
    asyncio.run(hold_first_batch(nats_url, database_url, service, float(ack_wait)))
