"""An ordered consumer (`ConsumerSpec(dedupe="sequence")`) on real NATS and both stores: the last
applied stream sequence is its whole deduplication, so it must apply in stream order, skip what
the position covers, and never let a later event overtake one that is still to be applied."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import string
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from nats.aio.msg import Msg
from nats.js.api import AckPolicy
from opentelemetry import trace
from pydantic import BaseModel
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text

from libs.common.broker import BrokerLink
from libs.common.db import Database, UnitOfWork
from libs.common.events import Envelope
from libs.common.inbox import ConsumerSpec, InboxConsumer
from libs.common.metrics import ServiceMetrics
from libs.common.settings import ServiceSettings
from libs.common.tables import (
    consumer_positions,
    dead_letters,
    inbox,
    platform_metadata,
    position_metadata,
)
from tests.harness import NatsServer, wait_for

test_metadata = MetaData()
applied = Table(
    "applied_in_order",
    test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("value", String(50), nullable=False),
)


class Noted(BaseModel):
    value: str


@dataclass
class Ordered:
    db: Database
    link: BrokerLink
    consumer: InboxConsumer
    metrics: ServiceMetrics
    service: str
    failures: dict[str, int]  # value -> how many more times its handler fails

    async def publish(self, *values: str) -> None:
        for value in values:
            env = Envelope(
                id=f"evt-{value}-{random.random()}",
                source=f"/pb/{self.service}",
                type=f"pb.{self.service}.note.made.v1",
                subject=value,
                time=datetime.now(UTC),
                data=Noted(value=value).model_dump_json().encode(),
            )
            await self.link.js.publish(env.type, env.data, headers=env.headers())

    async def values(self) -> list[str]:
        """What was applied, in the order it was applied."""
        async with self.db.read() as session:
            return list(
                (await session.execute(select(applied.c.value).order_by(applied.c.id))).scalars()
            )

    async def position(self) -> int:
        async with self.db.read() as session:
            query = select(consumer_positions.c.last_sequence)
            return int((await session.execute(query)).scalar_one_or_none() or 0)

    async def dead(self) -> list[str]:
        async with self.db.read() as session:
            return [
                str(r) for r in (await session.execute(select(dead_letters.c.reason))).scalars()
            ]

    def duplicates(self) -> float:
        value = self.metrics.registry.get_sample_value(
            "pb_events_duplicate_total", {"consumer": self.consumer.spec.name}
        )
        return value or 0.0


@pytest.fixture
async def ordered(nats_server: NatsServer, database_url: str) -> AsyncIterator[Ordered]:
    """An ordered consumer, not started: each test starts it or drives it by hand."""
    service = "t" + "".join(random.choices(string.ascii_lowercase, k=8))
    settings = ServiceSettings(
        service_name=service,
        database_url=database_url,
        nats_url=nats_server.url,
        inbox_max_deliveries=3,
        inbox_backoff_seconds=[0.2],
        inbox_batch_size=50,
        inbox_ack_wait_seconds=2.0,
    )
    db = Database(database_url, source=f"/pb/{service}")
    async with db.engine.begin() as conn:
        for metadata in (platform_metadata, position_metadata, test_metadata):
            await conn.run_sync(metadata.create_all)
    metrics = ServiceMetrics(service)
    link = BrokerLink(settings)
    spec = ConsumerSpec(name=f"{service}-ordered", stream=settings.stream_name, dedupe="sequence")
    failures: dict[str, int] = {}

    @spec.on(f"pb.{service}.note.made.v1", Noted)
    async def on_note(uow: UnitOfWork, envelope: Envelope, event: Noted) -> None:
        await uow.session.execute(insert(applied).values(value=event.value))
        if event.value.startswith("bad") or failures.get(event.value, 0) > 0:
            failures[event.value] = failures.get(event.value, 1) - 1
            raise RuntimeError(f"cannot apply note {event.value}")

    consumer = InboxConsumer(spec, db, link, settings, metrics, trace.get_tracer("test"))
    link.start()
    await asyncio.wait_for(link.ready.wait(), 10)
    yield Ordered(db, link, consumer, metrics, service, failures)
    await consumer.stop()
    await link.stop()
    await db.dispose()


async def _fetch_all(ordered: Ordered, count: int) -> list[Msg]:
    subscription = await ordered.consumer._subscribe()
    msgs: list[Msg] = []
    while len(msgs) < count:
        msgs += await subscription.fetch(count - len(msgs), timeout=5)
    return msgs


async def test_a_batch_is_applied_in_stream_order_whatever_order_it_came_in(
    ordered: Ordered,
) -> None:
    await ordered.publish("o-1", "o-2", "o-3", "o-4")
    msgs = await _fetch_all(ordered, 4)
    await ordered.consumer.process(list(reversed(msgs)))
    assert await ordered.values() == ["o-1", "o-2", "o-3", "o-4"]
    assert await ordered.position() == max(m.metadata.sequence.stream for m in msgs)
    async with ordered.db.read() as session:  # no inbox row per event
        assert (await session.execute(select(func.count()).select_from(inbox))).scalar() == 0


async def test_what_the_position_covers_is_skipped_and_acknowledged(ordered: Ordered) -> None:
    """A crash between the commit and the acks: the events come back, the position already
    covers them, and they are acknowledged as duplicates, changing nothing."""
    await ordered.publish("c-1", "c-2", "c-3")
    msgs = await _fetch_all(ordered, 3)

    async def lost(self: Msg) -> None:  # the process dies before its acks leave
        return None

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Msg, "ack", lost)
        await ordered.consumer.process(msgs)
    assert await ordered.values() == ["c-1", "c-2", "c-3"]

    ordered.consumer.start()  # they come back after the ack wait (2 s)
    await ordered.publish("c-4")
    await wait_for(lambda: _equal(ordered.values(), ["c-1", "c-2", "c-3", "c-4"]), timeout=10)
    await wait_for(lambda: _true(ordered.duplicates() == 3), timeout=10)
    await wait_for(lambda: _outstanding(ordered, 0), timeout=5)
    assert await ordered.values() == ["c-1", "c-2", "c-3", "c-4"]


async def test_a_failing_event_holds_up_those_after_it_until_it_is_applied(
    ordered: Ordered,
) -> None:
    ordered.failures["flaky"] = 2  # fails twice, then works (3 deliveries allowed)
    ordered.consumer.start()
    await ordered.publish("f-1", "flaky", "f-2", "f-3")
    await wait_for(lambda: _equal(ordered.values(), ["f-1", "flaky", "f-2", "f-3"]), timeout=10)
    assert await ordered.dead() == []
    # more events later go on from there, once each
    await ordered.publish("f-4")
    await wait_for(lambda: _equal(ordered.values(), ["f-1", "flaky", "f-2", "f-3", "f-4"]))


async def test_an_event_that_keeps_failing_is_dead_lettered_and_the_rest_go_on_in_order(
    ordered: Ordered,
) -> None:
    ordered.consumer.start()
    await ordered.publish("g-1", "bad-1", "g-2", "g-3")
    await wait_for(lambda: _equal(ordered.values(), ["g-1", "g-2", "g-3"]), timeout=15)
    [reason] = await ordered.dead()
    assert "cannot apply note bad-1" in reason
    await ordered.publish("g-4")
    await wait_for(lambda: _equal(ordered.values(), ["g-1", "g-2", "g-3", "g-4"]))


async def test_a_later_event_never_overtakes_one_a_dead_consumer_held(ordered: Ordered) -> None:
    """A consumer process that died holding a batch: a new one must not apply what came after
    it before the held batch comes back (after the ack wait), or the position would skip it."""
    await ordered.publish("h-1", "h-2")
    held = await _fetch_all(ordered, 2)  # handed out to "the dead process", never settled
    assert len(held) == 2
    ordered.consumer.start()
    await ordered.publish("h-3", "h-4")
    await wait_for(lambda: _equal(ordered.values(), ["h-1", "h-2", "h-3", "h-4"]), timeout=10)
    assert ordered.duplicates() == 0


async def test_a_backlog_is_read_ahead_once_per_message_and_applied_in_order(
    ordered: Ordered,
) -> None:
    """A full batch has the next one fetched and read (decoded) while it is applied: every
    message is read once, the batches after the first mostly in the task that fetched them
    ahead, and what is read ahead is applied as read in the round."""
    values = [f"r-{n:03d}" for n in range(5 * 50)]  # five batches of the fixture's 50
    await ordered.publish(*values)
    consumer = ordered.consumer
    read_in: dict[str, list[str]] = {}
    read = consumer._read

    def counted(msg: Msg) -> Any:
        task = asyncio.current_task()
        read_in.setdefault(Noted.model_validate_json(msg.data).value, []).append(
            task.get_name() if task is not None else ""
        )
        return read(msg)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(consumer, "_read", counted)
        consumer.start()
        await wait_for(lambda: _equal(ordered.values(), values), timeout=15)
        await wait_for(lambda: _outstanding(ordered, 0), timeout=5)
    assert sorted(read_in) == values
    assert all(len(tasks) == 1 for tasks in read_in.values())
    ahead = [v for v, tasks in read_in.items() if tasks[0].endswith("-next")]
    assert len(ahead) >= 3 * 50  # at least three batches after the first were read ahead
    assert ordered.duplicates() == 0


async def _equal(found: Awaitable[list[str]], expected: list[str]) -> bool:
    return await found == expected


async def _true(value: bool) -> bool:
    return value


async def _outstanding(ordered: Ordered, count: int) -> bool:
    info = await ordered.link.js.consumer_info(
        ordered.consumer.spec.stream, ordered.consumer.spec.name
    )
    return int(info.num_ack_pending or 0) == count and int(info.num_pending or 0) == 0


async def test_two_replicas_apply_everything_once_in_order_and_one_takes_over(
    ordered: Ordered,
) -> None:
    """A second replica of an ordered consumer: on PostgreSQL it waits while the first holds
    the lease and takes over when it stops; on SQLite (one process in practice) the two take
    turns. Either way everything is applied once, in stream order."""
    spec = ordered.consumer.spec
    settings = ordered.consumer.settings
    second = InboxConsumer(
        spec, ordered.db, ordered.link, settings, ordered.metrics, trace.get_tracer("test")
    )
    values = [f"r-{i:02d}" for i in range(30)]
    await ordered.publish(*values[:20])
    ordered.consumer.start()
    second.start()
    try:
        await wait_for(lambda: _equal(ordered.values(), values[:20]), timeout=20)
        if ordered.db.dialect == "postgresql":
            holders = [c for c in (ordered.consumer, second) if c._lease is not None]
            assert len(holders) == 1
            await holders[0].stop()  # the other takes over within half an ack wait
        await ordered.publish(*values[20:])
        await wait_for(lambda: _equal(ordered.values(), values), timeout=20)
    finally:
        await second.stop()


async def _lease_holder(ordered: Ordered) -> int | None:
    """The backend holding the consumer's advisory lock, as PostgreSQL sees it."""
    key = ordered.consumer._lease_key
    async with ordered.db.read() as session:
        query = text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND ((classid::bigint << 32) | objid::bigint) = :key"
        )
        return (await session.execute(query, {"key": key})).scalar_one_or_none()


@pytest.mark.parametrize("store", ["postgresql"])  # the lease is PostgreSQL's
async def test_the_batches_go_on_the_lease_and_a_lease_cut_off_is_taken_again(
    ordered: Ordered,
) -> None:
    """On PostgreSQL the batches are applied on the connection that holds the lease (none from
    the pool), so a commit proves the lease held; when that connection is cut off the consumer
    drops it (SQLAlchemy would reconnect it, without the lock), takes the lease again on a new
    one and applies everything once, in order."""
    assert ordered.db.dialect == "postgresql"
    event_type = f"pb.{ordered.service}.note.made.v1"
    noted = ordered.consumer._by_type[event_type]
    assert noted.handler is not None
    handle = noted.handler
    backends: list[int] = []

    async def noting_the_backend(uow: UnitOfWork, envelope: Envelope, event: Noted) -> None:
        backends.append((await uow.session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        await handle(uow, envelope, event)

    ordered.consumer._by_type[event_type] = dataclasses.replace(noted, handler=noting_the_backend)
    values = [f"l-{i:02d}" for i in range(40)]
    await ordered.publish(*values[:20])
    ordered.consumer.start()
    await wait_for(lambda: _equal(ordered.values(), values[:20]), timeout=20)
    first = await _lease_holder(ordered)
    assert first is not None
    assert set(backends) == {first}

    async with ordered.db.read() as session:
        await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    backends.clear()
    await ordered.publish(*values[20:])
    await wait_for(lambda: _equal(ordered.values(), values), timeout=30)
    second = await _lease_holder(ordered)
    assert second is not None
    assert second != first
    assert set(backends) == {second}


async def test_a_durable_made_with_explicit_acks_is_made_again_from_its_ack_floor(
    ordered: Ordered,
) -> None:
    """A durable left by a version that acknowledged each event: the server cannot change its
    ack policy, so it is made again with ack-all from its ack floor (what the old consumer had
    acknowledged is not delivered again; what it held unacknowledged is), and kept so after."""
    spec = ordered.consumer.spec
    js = ordered.link.js
    old = ordered.consumer.consumer_config()
    old.ack_policy = AckPolicy.EXPLICIT
    await js.add_consumer(spec.stream, old)
    await ordered.publish("e-1", "e-2")
    by_hand = await js.pull_subscribe_bind(durable=spec.name, stream=spec.stream)
    first, _held = await by_hand.fetch(2, timeout=5)
    await first.ack()  # the old consumer applied e-1; it was holding e-2 when it stopped
    await wait_for(lambda: _ack_floor(ordered, 1), timeout=5)
    await by_hand.unsubscribe()

    ordered.consumer.start()
    await ordered.publish("e-3")
    await wait_for(lambda: _equal(ordered.values(), ["e-2", "e-3"]), timeout=10)
    await wait_for(lambda: _outstanding(ordered, 0), timeout=5)
    info = await js.consumer_info(spec.stream, spec.name)
    assert info.config.ack_policy == AckPolicy.ALL
    assert info.config.opt_start_seq == 2

    await ordered.consumer.stop()  # a restart keeps the durable as it is
    again = InboxConsumer(
        spec,
        ordered.db,
        ordered.link,
        ordered.consumer.settings,
        ordered.metrics,
        trace.get_tracer("test"),
    )
    again.start()
    try:
        await ordered.publish("e-4")
        await wait_for(lambda: _equal(ordered.values(), ["e-2", "e-3", "e-4"]), timeout=10)
        info = await js.consumer_info(spec.stream, spec.name)
        assert (info.config.ack_policy, info.config.opt_start_seq) == (AckPolicy.ALL, 2)
    finally:
        await again.stop()
    assert ordered.duplicates() == 0


async def test_an_unreadable_event_is_dead_lettered_only_after_those_before_it_commit(
    ordered: Ordered,
) -> None:
    """Its termination acknowledges everything below it (ack-all): were it dead-lettered first,
    a crash before the events before it commit would lose them."""
    await ordered.publish("p-1", "p-2")
    await ordered.link.js.publish(f"pb.{ordered.service}.note.made.v1", b"not a CloudEvent")
    await ordered.publish("p-3")
    msgs = await _fetch_all(ordered, 4)
    positions_when_dead_lettered: list[int] = []
    dead_letter = ordered.consumer._dead_letter

    async def recorded(items: list[Any]) -> bool:
        positions_when_dead_lettered.append(await ordered.position())
        return await dead_letter(items)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ordered.consumer, "_dead_letter", recorded)
        await ordered.consumer.process(msgs)
    sequences = sorted(m.metadata.sequence.stream for m in msgs)
    assert positions_when_dead_lettered == [sequences[1]]  # p-1 and p-2 committed first
    assert await ordered.values() == ["p-1", "p-2", "p-3"]
    assert await ordered.position() == sequences[3]
    [reason] = await ordered.dead()
    assert "not a readable CloudEvent" in reason
    await wait_for(lambda: _outstanding(ordered, 0), timeout=5)


async def _ack_floor(ordered: Ordered, sequence: int) -> bool:
    info = await ordered.link.js.consumer_info(
        ordered.consumer.spec.stream, ordered.consumer.spec.name
    )
    return info.ack_floor is not None and int(info.ack_floor.stream_seq) == sequence
