"""The inbox on real NATS and both stores: once per consumer, retries, dead letters."""

from __future__ import annotations

import asyncio
import gc
import json
import random
import string
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from libs.common.broker import BrokerLink
from libs.common.db import Database, UnitOfWork
from libs.common.events import Envelope
from libs.common.inbox import ConsumerSpec, InboxConsumer
from libs.common.logging import configure_logging
from libs.common.metrics import ServiceMetrics
from libs.common.settings import ServiceSettings
from libs.common.tables import dead_letters, inbox, platform_metadata
from libs.common.tracing import create_tracer_provider
from tests.harness import NatsServer, wait_for

test_metadata = MetaData()
effects = Table(
    "effects",
    test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("value", String(50), nullable=False),
)


class Noted(BaseModel):
    note_id: str
    value: str


@dataclass
class Harness:
    db: Database
    link: BrokerLink
    consumer: InboxConsumer
    metrics: ServiceMetrics
    service: str
    spans: InMemorySpanExporter
    collecting: list[bool]  # whether the cyclic collector ran, as each batch handler saw it

    @property
    def subject(self) -> str:
        return f"pb.{self.service}.note.made.v1"

    def envelope(self, value: str, event_id: str | None = None, event: str = "made") -> Envelope:
        env = Envelope(
            id=event_id or f"evt-{value}-{random.random()}",
            source=f"/pb/{self.service}",
            type=f"pb.{self.service}.note.{event}.v1",
            subject=value,
            time=datetime.now(UTC),
            data=Noted(note_id=value, value=value).model_dump_json().encode(),
        )
        return env

    async def publish(self, env: Envelope, msg_id: str | None = None) -> None:
        headers = env.headers()
        if msg_id is not None:
            headers["Nats-Msg-Id"] = msg_id
        await self.link.js.publish(env.type, env.data, headers=headers)

    async def count(self, value: str | None = None) -> int:
        query = select(func.count()).select_from(effects)
        if value is not None:
            query = query.where(effects.c.value == value)
        async with self.db.read() as session:
            return int((await session.execute(query)).scalar_one())

    async def dead(self) -> list[dict[str, object]]:
        async with self.db.read() as session:
            rows = (await session.execute(select(dead_letters))).mappings().all()
        return [dict(r) for r in rows]


@pytest.fixture
async def harness(nats_server: NatsServer, database_url: str) -> AsyncIterator[Harness]:
    service = "t" + "".join(random.choices(string.ascii_lowercase, k=8))
    settings = ServiceSettings(
        service_name=service,
        database_url=database_url,
        nats_url=nats_server.url,
        inbox_max_deliveries=3,
        inbox_backoff_seconds=[0.05],
        inbox_batch_size=50,
    )
    db = Database(database_url, source=f"/pb/{service}")
    async with db.engine.begin() as conn:
        await conn.run_sync(platform_metadata.create_all)
        await conn.run_sync(test_metadata.create_all)
    spans = InMemorySpanExporter()
    provider = create_tracer_provider(settings, exporter=spans)
    metrics = ServiceMetrics(service)
    link = BrokerLink(settings)
    spec = ConsumerSpec(name=f"{service}-notes", stream=settings.stream_name)

    @spec.on(f"pb.{service}.note.made.v1", Noted)
    async def on_note(uow: UnitOfWork, envelope: Envelope, event: Noted) -> None:
        await uow.session.execute(insert(effects).values(event_id=envelope.id, value=event.value))
        if event.value.startswith("bad"):
            raise RuntimeError(f"cannot apply note {event.value}")

    collecting: list[bool] = []

    @spec.on_batch(f"pb.{service}.note.batched.v1", Noted)
    async def on_notes(uow: UnitOfWork, items: list[tuple[Envelope, Noted]]) -> None:
        collecting.append(gc.isenabled())
        await uow.session.execute(
            insert(effects), [{"event_id": e.id, "value": n.value} for e, n in items]
        )
        if any(n.value.startswith("bad") for _, n in items):
            raise RuntimeError("a bad note in the run")

    consumer = InboxConsumer(spec, db, link, settings, metrics, provider.get_tracer("test"))
    link.start()
    await asyncio.wait_for(link.ready.wait(), 10)
    consumer.start()
    yield Harness(db, link, consumer, metrics, service, spans, collecting)
    await consumer.stop()
    await link.stop()
    await db.dispose()


async def test_an_event_delivered_twice_changes_the_store_once(harness: Harness) -> None:
    env = harness.envelope("once")
    await harness.publish(env)
    # the same event again, past JetStream's dedup (another message id): the inbox must catch it
    await harness.publish(env, msg_id=env.id + "-again")
    await harness.publish(harness.envelope("after"))
    await wait_for(lambda: _is(harness.count("after"), 1))

    async def duplicates() -> float | None:
        return harness.metrics.registry.get_sample_value(
            "pb_events_duplicate_total", {"consumer": harness.consumer.spec.name}
        )

    await wait_for(duplicates)
    assert await harness.count("once") == 1
    assert await duplicates() == 1


async def test_jetstream_drops_a_republished_id_inside_its_window(harness: Harness) -> None:
    env = harness.envelope("dedup")
    await harness.publish(env)
    ack = await harness.link.js.publish(env.type, env.data, headers=env.headers())
    assert ack.duplicate is True


async def test_a_failing_event_is_dead_lettered_with_its_reason_and_others_go_on(
    harness: Harness,
) -> None:
    await harness.publish(harness.envelope("bad-1"))
    await harness.publish(harness.envelope("good-1"))
    await wait_for(lambda: harness.dead(), timeout=10)
    await harness.publish(harness.envelope("good-2"))
    await wait_for(lambda: _is(harness.count("good-2"), 1))

    [letter] = await harness.dead()
    assert letter["consumer"] == harness.consumer.spec.name
    assert letter["deliveries"] == 3
    assert "cannot apply note bad-1" in str(letter["reason"])
    assert letter["event_type"] == harness.subject
    # the failed attempts left nothing behind; the good events were applied once each
    assert await harness.count("bad-1") == 0
    assert await harness.count("good-1") == 1

    # and a copy went to the dead-letter subject, with the reason in a header
    nc = await nats.connect(harness.link.settings.nats_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(
            f"pb.dlq.{harness.service}.>", stream=f"PB_DLQ_{harness.service.upper()}"
        )
        [copy] = await sub.fetch(1, timeout=5)
        assert copy.headers is not None
        assert "cannot apply note bad-1" in copy.headers["pb-dead-letter-reason"]
    finally:
        await nc.close()


async def test_a_dead_letter_is_an_error_span_in_its_events_trace_and_its_log_line_says_so(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    configure_logging(level="INFO", fmt="json", service="test")
    env = replace(harness.envelope("bad-traced"), traceparent=f"00-{trace_id}-{parent}-01")
    await harness.publish(env)
    await wait_for(lambda: harness.dead(), timeout=10)

    async def dead_letter_span() -> list[Any]:
        return [s for s in harness.spans.get_finished_spans() if s.name.endswith("dead-letter")]

    [span] = await wait_for(dead_letter_span, timeout=5)
    assert format(span.context.trace_id, "032x") == trace_id  # the write's trace, continued
    assert span.status.status_code is trace.StatusCode.ERROR
    assert "cannot apply note bad-traced" in str(span.attributes["pb.dead_letter.reason"])
    logged = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if '"event dead-lettered"' in line
    ]
    assert [line["trace_id"] for line in logged] == [trace_id]


async def test_a_message_that_is_not_a_cloudevent_is_dead_lettered_at_once(
    harness: Harness,
) -> None:
    await harness.link.js.publish(harness.subject, b"not json", headers={"x": "y"})
    letters = await wait_for(lambda: harness.dead(), timeout=10)
    assert letters[0]["deliveries"] == 1
    assert "not a readable CloudEvent" in str(letters[0]["reason"])


async def test_data_that_does_not_match_the_model_is_dead_lettered_naming_the_field(
    harness: Harness,
) -> None:
    env = harness.envelope("shape")
    broken = Envelope(env.id, env.source, env.type, env.subject, env.time, b'{"note_id": "x"}')
    await harness.publish(broken)
    letters = await wait_for(lambda: harness.dead(), timeout=10)
    assert "value" in str(letters[0]["reason"])


async def _is(count: Awaitable[int], expected: int) -> bool:
    return await count == expected


async def test_applied_ids_past_retention_are_forgotten(harness: Harness) -> None:
    await harness.publish(harness.envelope("kept"))
    await wait_for(lambda: _is(harness.count("kept"), 1))
    async with harness.db.unit_of_work() as uow:
        await uow.session.execute(
            insert(inbox).values(
                consumer=harness.consumer.spec.name,
                event_id="ancient",
                event_type=harness.subject,
                processed_at=datetime.now(UTC) - timedelta(days=31),
            )
        )
    harness.consumer._last_purge = float("-inf")  # the next round purges
    await harness.publish(harness.envelope("trigger"))
    await wait_for(lambda: _is(harness.count("trigger"), 1))

    async def ids() -> set[str]:
        async with harness.db.read() as session:
            return set((await session.execute(select(inbox.c.event_id))).scalars())

    await wait_for(lambda: _lacks(ids(), "ancient"))
    assert len(await ids()) == 2


async def test_a_batch_handler_writes_a_run_at_once_and_a_bad_event_is_isolated(
    harness: Harness,
) -> None:
    for value in ("run-a", "bad-run-b", "run-c"):
        await harness.publish(harness.envelope(value, event="batched"))
    letters = await wait_for(lambda: harness.dead(), timeout=10)
    assert [str(letter["reason"]) for letter in letters] == ["RuntimeError: a bad note in the run"]
    await wait_for(lambda: _is(harness.count("run-c"), 1))
    assert await harness.count("run-a") == 1
    assert await harness.count("bad-run-b") == 0


async def test_a_batch_is_applied_with_the_collector_held_off_and_counted_once_per_type(
    harness: Harness,
) -> None:
    async def collecting_again() -> bool:
        return gc.isenabled()

    # on (it may be resting after an earlier batch: `collector.REST_SECONDS`)
    await wait_for(collecting_again)
    for value in ("gc-a", "gc-b", "gc-c"):
        await harness.publish(harness.envelope(value, event="batched"))
    await wait_for(lambda: _is(harness.count("gc-c"), 1))

    async def consumed() -> float | None:
        return harness.metrics.registry.get_sample_value(
            "pb_events_consumed_total",
            {
                "consumer": harness.consumer.spec.name,
                "type": f"pb.{harness.service}.note.batched.v1",
            },
        )

    async def all_counted() -> bool:
        return await consumed() == 3

    await wait_for(all_counted)
    assert harness.collecting
    assert not any(harness.collecting)  # held off while applying
    await wait_for(collecting_again)  # and on again once the batch is settled


async def _lacks(found: Awaitable[set[str]], item: str) -> bool:
    return item not in await found


async def test_a_batch_scope_writes_a_batch_once_and_never_a_failed_events_share(
    harness: Harness,
) -> None:
    """The handlers accumulate into the batch scope, which writes once per group applied
    together; a failing event is isolated in a scope of its own, and what it accumulated is
    never written, whether its handler or the scope's own write fails."""
    spec = ConsumerSpec(name=f"{harness.service}-tallies", stream=harness.consumer.spec.stream)
    flushed: list[list[str]] = []

    @spec.batch_scope
    @asynccontextmanager
    async def tally(uow: UnitOfWork) -> AsyncIterator[list[str]]:
        values: list[str] = []
        uow.session.info["tally"] = values
        try:
            yield values
            if "bad-flush" in values:
                raise RuntimeError("cannot write the tally")
            await uow.session.execute(
                insert(effects), [{"event_id": "tally", "value": v} for v in values]
            )
            flushed.append(list(values))
        finally:
            del uow.session.info["tally"]

    @spec.on_batch(f"pb.{harness.service}.note.tallied.v1", Noted)
    async def on_tallied(uow: UnitOfWork, items: list[tuple[Envelope, Noted]]) -> None:
        uow.session.info["tally"].extend(n.value for _, n in items)
        if any(n.value == "bad-handler" for _, n in items):
            raise RuntimeError("a bad tally")

    @spec.on(f"pb.{harness.service}.note.counted.v1", Noted)
    async def on_counted(uow: UnitOfWork, envelope: Envelope, event: Noted) -> None:
        uow.session.info["tally"].append(event.value)

    # all published before the consumer starts, so its first fetch takes them in one batch
    for value in ("t-1", "t-2"):
        await harness.publish(harness.envelope(value, event="tallied"))
    await harness.publish(harness.envelope("c-3", event="counted"))
    await harness.publish(harness.envelope("t-4", event="tallied"))
    settings = harness.link.settings
    tracer = trace.get_tracer("test")
    consumer = InboxConsumer(spec, harness.db, harness.link, settings, harness.metrics, tracer)
    consumer.start()
    try:
        await wait_for(lambda: _is(harness.count("t-4"), 1))
        # three runs of two event types, one write for the whole batch, in stream order
        assert flushed == [["t-1", "t-2", "c-3", "t-4"]]

        flushed.clear()
        for value in ("t-5", "bad-handler", "t-6", "bad-flush", "t-7"):
            await harness.publish(harness.envelope(value, event="tallied"))
        await wait_for(lambda: _is(harness.count("t-7"), 1))
        assert await harness.count("t-5") == await harness.count("t-6") == 1
        assert await harness.count("bad-handler") == await harness.count("bad-flush") == 0
        # whatever the batches, a bad event never shared a write with a good one
        assert sorted(v for values in flushed for v in values) == ["t-5", "t-6", "t-7"]
    finally:
        await consumer.stop()


async def test_a_batch_whose_transaction_fails_comes_back_after_the_backoff(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store failing under a whole batch (not one handler) naks what the batch held: it is
    applied again after the first backoff, not after the ack wait (10 s here)."""
    assert harness.consumer.settings.inbox_ack_wait_seconds >= 10
    real = harness.consumer._apply_batch
    failures = iter([ConnectionResetError("the store went away")])

    async def fail_once(batch: Any) -> Any:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return await real(batch)

    monkeypatch.setattr(harness.consumer, "_apply_batch", fail_once)
    started = time.monotonic()
    await harness.publish(harness.envelope("through-a-failure"))
    await wait_for(lambda: _is(harness.count("through-a-failure"), 1), timeout=8)
    assert time.monotonic() - started < 5
    assert await harness.dead() == []


async def test_an_event_in_structured_mode_is_applied_and_unreadable_data_is_dead_lettered(
    harness: Harness,
) -> None:
    """The CloudEvents NATS binding's structured mode: the whole event as JSON in the body."""
    env = harness.envelope("structured")
    event = {
        "specversion": "1.0",
        "id": env.id,
        "source": env.source,
        "type": env.type,
        "subject": env.subject,
        "time": env.time.isoformat(),
        "datacontenttype": "application/json",
        "data": json.loads(env.data),
    }
    structured = {"content-type": "application/cloudevents+json; charset=utf-8"}
    await harness.link.js.publish(env.type, json.dumps(event).encode(), headers=structured)
    base64 = {**event, "id": "evt-base64", "data_base64": "AAEC"}
    del base64["data"]
    await harness.link.js.publish(env.type, json.dumps(base64).encode(), headers=structured)

    await wait_for(lambda: _is(harness.count("structured"), 1))
    [letter] = await wait_for(lambda: harness.dead(), timeout=10)
    assert letter["deliveries"] == 1
    assert "data_base64 is not JSON data" in str(letter["reason"])
