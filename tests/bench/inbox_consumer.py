"""The inbox consumer against the JetStream consume ceiling of the same client, server and stream.

Per store and repetition (fresh database, fresh streams, the same server):

* produced (not timed): `events` CloudEvents (their data bytes and `Envelope.headers()`, each
  with a traceparent as a relayed event has) published from a plain nats-py client with
  `publish_async` into the stream a `BrokerLink` declares for the bench service, every ack awaited;
* raw: a fresh durable pull consumer on that stream, plain nats-py: `fetch(RAW_BATCH, timeout=1)`
  and `await msg.ack()` each message, nothing stored, until every event was received;
* inbox: an `InboxConsumer` started as `libs.common.service.Runtime` starts it, its one batch
  handler a multi-row upsert of the projection per run of events (as coverage writes), timed
  from its start until `pb_inbox` holds every event id for the consumer.

No floor: the ratio inbox/raw is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
import uuid
from typing import Any

import nats
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry.sdk.trace import TracerProvider
from pydantic import Field
from sqlalchemy import Column, Integer, MetaData, String, func, select
from sqlalchemy import Table as SqlTable

from libs.common.broker import BrokerLink
from libs.common.db import Database, UnitOfWork, upsert_many
from libs.common.events import Envelope, IntegrationEvent, catalogue
from libs.common.inbox import ConsumerSpec, InboxConsumer
from libs.common.logging import configure_logging
from libs.common.metrics import ServiceMetrics
from libs.common.settings import ServiceSettings
from libs.common.tables import UTCDateTime, dead_letters, inbox, platform_metadata, utcnow
from libs.common.tracing import create_tracer_provider, instrument_engine
from tests.bench.common import (
    BenchOptions,
    Repetition,
    Table,
    Timing,
    drop_streams,
    median,
    phase_timeout,
    rate,
    repeat_per_store,
    store,
    stream_messages,
)

#: Events per run unless `--events` says otherwise.
DEFAULT_EVENTS = 20_000

NAME = "inbox_consumer"
SERVICE = "benchinbox"
CONSUMER = "benchinbox-projection"  # the inbox's durable consumer
RAW_CONSUMER = "benchinbox-raw"  # the plain nats-py durable consumer
RAW_BATCH = 500  # messages per raw fetch
SPAN_BATCH = 1_000  # events produced under one span (so each carries a traceparent)
POLL_SECONDS = 0.05  # how often pb_inbox is counted while the consumer works


@catalogue.register(
    "pb.benchinbox.organization.registered",
    version=1,
    producer=SERVICE,
    subject_field="organization_id",
)
class OrganizationRegisteredV1(IntegrationEvent):
    """An organization was registered (the benchmark's event, about the size of a real one)."""

    organization_id: str = Field(description="The organization's id")
    region_code: str = Field(description="Statistical division code")
    kind: str
    staff_count: int = Field(ge=0)


bench_metadata = MetaData()
projection = SqlTable(
    "bench_organizations",
    bench_metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("region_code", String(12), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("staff_count", Integer(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)


def bench_settings(database_url: str, nats_url: str) -> ServiceSettings:
    """A service's settings as `make run` would give them, on the bench's store and server."""
    return ServiceSettings(
        service_name=SERVICE,
        database_url=database_url,
        nats_url=nats_url,
        migrate_on_start=False,
        tracing_exporter="none",  # spans are made (and cost) as in a service, exported nowhere
        log_level="WARNING",
    )


def organization(i: int) -> OrganizationRegisteredV1:
    return OrganizationRegisteredV1(
        organization_id=str(uuid.uuid4()),
        region_code="140212001001",
        kind=("company", "cooperative", "branch")[i % 3],
        staff_count=i,
    )


def envelopes(provider: TracerProvider, events: int) -> list[Envelope]:
    """The events as the producer's relay would publish them: each with a traceparent."""
    tracer = provider.get_tracer("pb.bench.producer")
    out: list[Envelope] = []
    for start in range(0, events, SPAN_BATCH):
        with tracer.start_as_current_span("POST /organizations") as span:
            context = span.get_span_context()
            traceparent = (
                f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
            )
            out += [
                Envelope.wrap(organization(i), source=f"/pb/{SERVICE}", traceparent=traceparent)
                for i in range(start, min(start + SPAN_BATCH, events))
            ]
    return out


def consumer_spec(settings: ServiceSettings) -> ConsumerSpec:
    """One batch handler, a projection write as coverage does it: one multi-row upsert for
    each run of events the inbox hands over."""
    spec = ConsumerSpec(name=CONSUMER, stream=settings.stream_name)

    @spec.on_batch(OrganizationRegisteredV1.type_name(), OrganizationRegisteredV1)
    async def on_registered(uow: UnitOfWork, items: list[tuple[Envelope, Any]]) -> None:
        now = utcnow()
        rows = [
            {
                "organization_id": event.organization_id,
                "region_code": event.region_code,
                "kind": event.kind,
                "staff_count": event.staff_count,
                "updated_at": now,
            }
            for _, event in items
        ]
        await upsert_many(uow.session, projection, rows, key="organization_id")

    return spec


async def produce(js: JetStreamContext, settings: ServiceSettings, batch: list[Envelope]) -> None:
    """Publish the envelopes into the service's stream and await every ack (not timed)."""
    for e in batch:
        await js.publish_async(e.type, e.data, headers=e.headers())
    await asyncio.wait_for(js.publish_async_completed(), timeout=phase_timeout(len(batch)))
    held = await stream_messages(js, settings.stream_name)
    if held != len(batch):
        raise RuntimeError(f"stream holds {held} messages, expected {len(batch)}")


async def unacknowledged(js: JetStreamContext, stream: str, durable: str) -> int:
    """What the server still has to deliver or still waits an ack for, on a consumer."""
    info = await js.consumer_info(stream, durable)
    return int(info.num_pending or 0) + int(info.num_ack_pending or 0)


async def raw_consume(
    nc: Client, settings: ServiceSettings, events: int, problems: list[str]
) -> Timing:
    """How long a plain nats-py client takes to fetch and ack every event (nothing stored)."""
    js = nc.jetstream()
    subscription = await js.pull_subscribe(
        f"pb.{SERVICE}.>",
        durable=RAW_CONSUMER,
        stream=settings.stream_name,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=settings.inbox_ack_wait_seconds,
            max_ack_pending=max(1000, settings.inbox_batch_size * 8),  # as the inbox's
        ),
    )
    received: set[int] = set()
    deadline = time.monotonic() + phase_timeout(events)
    started, cpu = time.perf_counter(), time.process_time()
    while len(received) < events:
        if time.monotonic() > deadline:
            problems.append(f"raw: {events - len(received)} events not received at timeout")
            break
        try:
            msgs = await subscription.fetch(RAW_BATCH, timeout=1)
        except (NatsTimeoutError, TimeoutError):
            continue
        for msg in msgs:
            received.add(msg.metadata.sequence.stream)
            await msg.ack()
    elapsed = Timing(time.perf_counter() - started, time.process_time() - cpu)
    await nc.flush()
    await asyncio.sleep(0.2)  # the server applies the last acks
    left = await unacknowledged(js, settings.stream_name, RAW_CONSUMER)
    if left:
        problems.append(f"raw: the consumer still has {left} events pending or unacked")
    with contextlib.suppress(Exception):
        await subscription.unsubscribe()
    return elapsed


async def count(db: Database, query: Any) -> int:
    async with db.read() as session:
        return int((await session.execute(query)).scalar_one())


async def inbox_consume(
    settings: ServiceSettings,
    db: Database,
    link: BrokerLink,
    provider: TracerProvider,
    events: int,
    problems: list[str],
) -> Timing:
    """From the consumer's start until `pb_inbox` holds every event id (broker already
    connected and streams created, as once a service is up)."""
    metrics = ServiceMetrics(settings.service_name)
    tracer = provider.get_tracer(f"pb.{settings.service_name}")
    consumer = InboxConsumer(consumer_spec(settings), db, link, settings, metrics, tracer)
    stored = select(func.count()).select_from(inbox).where(inbox.c.consumer == CONSUMER)
    try:
        deadline = time.monotonic() + phase_timeout(events)
        started, cpu = time.perf_counter(), time.process_time()
        consumer.start()
        while True:
            done = await count(db, stored)
            if done >= events:
                break
            if time.monotonic() > deadline:
                problems.append(f"inbox: {events - done} events still not applied at timeout")
                break
            await asyncio.sleep(POLL_SECONDS)
        elapsed = Timing(time.perf_counter() - started, time.process_time() - cpu)
        await consumer.stop()
        await asyncio.sleep(0.2)  # the server applies the last acks
        left = await unacknowledged(link.js, settings.stream_name, CONSUMER)
        if left:
            problems.append(f"inbox: the consumer still has {left} events pending or unacked")
        rows = await count(db, select(func.count()).select_from(projection))
        if rows != events:
            problems.append(f"inbox: projection holds {rows} rows, expected {events}")
        dead = await count(db, select(func.count()).select_from(dead_letters))
        if dead:
            problems.append(f"inbox: {dead} events dead-lettered")
        return elapsed
    finally:
        await consumer.stop()


async def repetition(kind: str, nats_url: str, options: BenchOptions) -> Repetition:
    async with store(kind) as url:
        settings = bench_settings(url, nats_url)
        provider = create_tracer_provider(settings)
        db = Database(settings.resolved_database_url(), source=f"/pb/{SERVICE}")
        instrument_engine(db.engine, provider)
        link = BrokerLink(settings)
        nc = await nats.connect(nats_url)
        problems: list[str] = []
        try:
            async with db.engine.begin() as conn:
                await conn.run_sync(platform_metadata.create_all)
                await conn.run_sync(bench_metadata.create_all)
            js = nc.jetstream()
            await drop_streams(js, settings)
            link.start()  # declares the service's streams
            await asyncio.wait_for(link.ready.wait(), timeout=30)
            batch = envelopes(provider, options.size(DEFAULT_EVENTS))
            await produce(js, settings, batch)
            del batch
            gc.collect()
            raw = await raw_consume(nc, settings, options.size(DEFAULT_EVENTS), problems)
            gc.collect()
            consumed = await inbox_consume(
                settings, db, link, provider, options.size(DEFAULT_EVENTS), problems
            )
            await drop_streams(js, settings)
        finally:
            await nc.close()
            await link.stop()
            await db.dispose()
            provider.shutdown()
        return Repetition(raw, consumed, options.size(DEFAULT_EVENTS), problems)


async def run(options: BenchOptions) -> list[Table]:
    configure_logging(level="WARNING", fmt="console", service=SERVICE)
    settings = bench_settings("", "")
    table = Table(
        title=(
            f"inbox consumer: {options.size(DEFAULT_EVENTS):,} events, median of {options.repeats} "
            "repetition(s), events/s"
        ),
        columns=[
            "store",
            "raw nats-py",
            "inbox",
            "inbox/raw",
            "CPU µs/ev raw/inbox",
            "checks",
            "inbox each run",
        ],
    )
    results = await repeat_per_store(options, "inbox", repetition, table)
    for kind, runs in results.items():
        raw = median([r.raw_rate for r in runs])
        consumed = median([r.measured_rate for r in runs])
        problems = sum(len(r.problems) for r in runs)
        table.rows.append(
            [
                kind,
                rate(raw),
                rate(consumed),
                f"{consumed / raw:.2f}",
                f"{median([r.raw_cpu_us for r in runs]):.0f} / "
                f"{median([r.measured_cpu_us for r in runs]):.0f}",
                "ok" if not problems else f"{problems} PROBLEM(S)",
                " ".join(rate(r.measured_rate) for r in runs),
            ]
        )
        if problems:
            table.notes.append(
                f"!!! {kind}: {problems} problem(s) (events not received or not applied, "
                "unacked messages, projection rows missing, dead letters): see the !!! lines "
                "above"
            )
    table.notes += [
        f"config: inbox_batch_size={settings.inbox_batch_size}, "
        f"inbox_ack_wait_seconds={settings.inbox_ack_wait_seconds:g}, "
        f"max_ack_pending={max(1000, settings.inbox_batch_size * 8)}, "
        f"stream storage={settings.stream_storage}, "
        f"tracing_exporter={settings.tracing_exporter} (sample ratio "
        f"{settings.tracing_sample_ratio:g}); events produced (not timed) with plain nats-py "
        "publish_async into the stream a BrokerLink declares, each with a traceparent",
        f"raw: a fresh durable pull consumer, plain nats-py fetch({RAW_BATCH}, timeout=1) and "
        "`await msg.ack()` each message, nothing stored, until every event was received",
        "inbox: InboxConsumer as Runtime starts it (batch pull, one transaction, the batch applied "
        "in one savepoint by a batch handler doing one multi-row upsert per run, inbox ids "
        "stored, then acks), from "
        f"its start until pb_inbox holds every id (COUNT every {POLL_SECONDS * 1000:.0f} ms); "
        "projection rows, dead letters and the consumer's pending/unacked then checked",
        "inbox/raw compares the medians; CPU: this process's CPU time (all threads; the "
        "nats-server and PostgreSQL not included) per event",
    ]
    return [table]
