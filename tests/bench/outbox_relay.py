"""The outbox relay against the JetStream ceiling of the same client, server and payloads.

Per store and repetition (fresh database, fresh streams):

* raw: the recorded envelopes (their data bytes and `Envelope.headers()`, so a unique
  Nats-Msg-Id each) published from a plain nats-py client with `publish_async` (pipelined,
  default max pending) to a fresh stream of the service's shape, then every ack awaited;
* relay: a `BrokerLink` and an `OutboxRelay` started as `libs.common.service.Runtime` starts
  them, timed from the relay's start until no event is unsent (`any_unsent`).

The floor (issue 15): the relay keeps at least half the raw rate, on both stores.
"""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from datetime import UTC, datetime

import nats
from opentelemetry.sdk.trace import TracerProvider
from pydantic import Field
from sqlalchemy import select

from libs.common.broker import BrokerLink, service_streams
from libs.common.db import Database
from libs.common.events import Envelope, IntegrationEvent, catalogue
from libs.common.logging import configure_logging
from libs.common.metrics import ServiceMetrics
from libs.common.outbox import OutboxRelay, outbox_backlog
from libs.common.settings import ServiceSettings
from libs.common.tables import outbox, platform_metadata
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
    record,
    repeat_per_store,
    store,
    stream_messages,
)

#: Events per run unless `--events` says otherwise.
DEFAULT_EVENTS = 20_000

NAME = "outbox_relay"
SERVICE = "benchsvc"
WRITE_BATCH = 1_000  # events per transaction when filling the outbox (not timed)
FLOOR = 0.5  # the relay keeps at least this share of the raw rate
POLL_SECONDS = 0.02  # how often the backlog is read while the relay drains


@catalogue.register(
    "pb.benchsvc.thing.happened", version=1, producer=SERVICE, subject_field="thing_id"
)
class ThingHappenedV1(IntegrationEvent):
    """A thing happened (the benchmark's event, about the size of a real one)."""

    thing_id: str = Field(description="The thing's id")
    region_code: str = Field(description="Statistical division code")
    kind: str
    count: int = Field(ge=0)
    happened_at: datetime


def default_batch_size() -> int:
    size: int = ServiceSettings.model_fields["outbox_batch_size"].default
    return size


def bench_settings(database_url: str, nats_url: str, options: BenchOptions) -> ServiceSettings:
    """A service's settings as `make run` would give them, on the bench's store and server."""
    return ServiceSettings(
        service_name=SERVICE,
        database_url=database_url,
        nats_url=nats_url,
        migrate_on_start=False,
        outbox_batch_size=options.batch_size or default_batch_size(),
        tracing_exporter="none",  # spans are made (and cost) as in a service, exported nowhere
        log_level="WARNING",
    )


def thing(i: int) -> ThingHappenedV1:
    return ThingHappenedV1(
        thing_id=str(uuid.uuid4()),
        region_code="140212001001",
        kind=("registered", "updated", "closed")[i % 3],
        count=i,
        happened_at=datetime.now(UTC),
    )


async def fill_outbox(db: Database, provider: TracerProvider, events: int) -> list[Envelope]:
    """Record `events` events through the unit of work, `WRITE_BATCH` per transaction, each
    inside a span as a request would be (so every row carries a traceparent)."""
    async with db.engine.begin() as conn:
        await conn.run_sync(platform_metadata.create_all)
    tracer = provider.get_tracer("pb.bench.writer")
    envelopes: list[Envelope] = []
    for start in range(0, events, WRITE_BATCH):
        with tracer.start_as_current_span("POST /things"):
            async with db.unit_of_work() as uow:
                for i in range(start, min(start + WRITE_BATCH, events)):
                    envelopes.append(uow.record(thing(i)))
    return envelopes


async def raw_publish(
    settings: ServiceSettings, envelopes: list[Envelope], problems: list[str]
) -> Timing:
    """How long a plain nats-py client takes to publish the envelopes and have every ack."""
    spec = service_streams(settings)[0]
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        await drop_streams(js, settings)
        await js.add_stream(spec.config())
        started, cpu = time.perf_counter(), time.process_time()
        futures = [await js.publish_async(e.type, e.data, headers=e.headers()) for e in envelopes]
        try:
            await asyncio.wait_for(
                js.publish_async_completed(), timeout=phase_timeout(len(envelopes))
            )
        except TimeoutError:
            problems.append(f"raw: {js.publish_async_pending()} acks still missing at timeout")
        elapsed = Timing(time.perf_counter() - started, time.process_time() - cpu)
        failed = sum(1 for f in futures if not f.done() or f.cancelled() or f.exception())
        if failed:
            problems.append(f"raw: {failed} publishes failed")
        held = await stream_messages(js, spec.name)
        if held != len(envelopes):
            problems.append(f"raw: stream holds {held} messages, expected {len(envelopes)}")
        await drop_streams(js, settings)
        return elapsed
    finally:
        await nc.close()


async def any_unsent(db: Database) -> bool:
    """Whether an event waits to be published: one probe of the unsent index (counting the
    backlog every 20 ms, as `outbox_backlog` does, took CPU from the relay it measures)."""
    async with db.read() as session:
        found = await session.execute(
            select(outbox.c.seq).where(outbox.c.sent_at.is_(None)).limit(1)
        )
        return found.first() is not None


async def relay_drain(
    settings: ServiceSettings,
    db: Database,
    provider: TracerProvider,
    events: int,
    problems: list[str],
) -> Timing:
    """From the relay's start until the outbox has nothing unsent (broker already
    connected and streams created, as once a service is up)."""
    metrics = ServiceMetrics(settings.service_name)
    tracer = provider.get_tracer(f"pb.{settings.service_name}")
    link = BrokerLink(settings)
    relay = OutboxRelay(db, link, settings, metrics, tracer)
    link.start()
    try:
        await asyncio.wait_for(link.ready.wait(), timeout=30)
        deadline = time.monotonic() + phase_timeout(events)
        started, cpu = time.perf_counter(), time.process_time()
        relay.start()
        while await any_unsent(db):
            if time.monotonic() > deadline:
                backlog, _ = await outbox_backlog(db)
                problems.append(f"relay: {backlog} events still unsent at timeout")
                break
            await asyncio.sleep(POLL_SECONDS)
        elapsed = Timing(time.perf_counter() - started, time.process_time() - cpu)
        await relay.stop()
        held = await stream_messages(link.js, settings.stream_name)
        if held != events:
            problems.append(f"relay: stream holds {held} messages, expected {events}")
        await drop_streams(link.js, settings)
        return elapsed
    finally:
        await relay.stop()
        await link.stop()


async def repetition(kind: str, nats_url: str, options: BenchOptions) -> Repetition:
    async with store(kind) as url:
        settings = bench_settings(url, nats_url, options)
        provider = create_tracer_provider(settings)
        db = Database(settings.resolved_database_url(), source=f"/pb/{SERVICE}")
        instrument_engine(db.engine, provider)
        problems: list[str] = []
        try:
            envelopes = await fill_outbox(db, provider, options.size(DEFAULT_EVENTS))
            gc.collect()
            raw = await raw_publish(settings, envelopes, problems)
            del envelopes  # a service holds no copy of its outbox in memory
            gc.collect()
            relay = await relay_drain(
                settings, db, provider, options.size(DEFAULT_EVENTS), problems
            )
        finally:
            await db.dispose()
            provider.shutdown()
        return Repetition(raw, relay, options.size(DEFAULT_EVENTS), problems)


async def run(options: BenchOptions) -> list[Table]:
    configure_logging(level="WARNING", fmt="console", service=SERVICE)
    settings = bench_settings("", "", options)
    table = Table(
        title=(
            f"outbox relay: {options.size(DEFAULT_EVENTS):,} events, median of {options.repeats} "
            "repetition(s), events/s"
        ),
        columns=[
            "store",
            "raw nats-py",
            "relay",
            "relay/raw",
            "floor 0.5",
            "CPU µs/ev raw/relay",
            "checks",
            "relay each run",
        ],
    )
    results = await repeat_per_store(options, "relay", repetition, table)
    for kind, runs in results.items():
        raw = median([r.raw_rate for r in runs])
        relay = median([r.measured_rate for r in runs])
        ratio = relay / raw
        problems = sum(len(r.problems) for r in runs)
        table.rows.append(
            [
                kind,
                rate(raw),
                rate(relay),
                f"{ratio:.2f}",
                "met" if ratio >= FLOOR else "NOT MET",
                f"{median([r.raw_cpu_us for r in runs]):.0f} / "
                f"{median([r.measured_cpu_us for r in runs]):.0f}",
                "ok" if not problems else f"{problems} PROBLEM(S)",
                " ".join(rate(r.measured_rate) for r in runs),
            ]
        )
        record(NAME, relay, raw, FLOOR, "ev/s", kind)
        if problems:
            table.notes.append(
                f"!!! {kind}: {problems} problem(s) (missing acks, unsent rows or a stream "
                "not holding exactly the events written): see the !!! lines above"
            )
    table.notes += [
        f"config: outbox_batch_size={settings.outbox_batch_size}, "
        f"outbox_ack_timeout_seconds={settings.outbox_ack_timeout_seconds:g}, "
        f"stream storage={settings.stream_storage}, "
        f"duplicate window={settings.duplicate_window_seconds:g} s, "
        f"tracing_exporter={settings.tracing_exporter} (sample ratio "
        f"{settings.tracing_sample_ratio:g}); outbox written {WRITE_BATCH} events per "
        "transaction, each inside a span (every row has a traceparent)",
        "raw: plain nats-py publish_async (default max pending), the same subjects, data and "
        "headers (Envelope.headers()), to a fresh stream of the service's shape, until all acked",
        "relay: BrokerLink + OutboxRelay as Runtime starts them, from relay start until no "
        f"event is unsent (one index probe every {POLL_SECONDS * 1000:.0f} ms); stream then "
        "checked",
        f"floor: relay/raw >= {FLOOR:.2f}; relay/raw compares the medians; CPU: this process's "
        "CPU time (all threads; the nats-server and PostgreSQL not included) per event",
    ]
    return [table]
