"""The outbox relay on real NATS and both stores."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from nats.aio.msg import Msg
from opentelemetry import trace
from sqlalchemy import func, select, update

from libs.common.broker import BrokerLink
from libs.common.db import Database
from libs.common.events import Envelope, IntegrationEvent, catalogue
from libs.common.metrics import ServiceMetrics
from libs.common.outbox import (
    _MARK_EVERY_SECONDS,
    OutboxRelay,
    ack_error,
    mark_for_republish,
    message_headers,
    outbox_backlog,
    purge_sent,
)
from libs.common.settings import ServiceSettings
from libs.common.tables import outbox, platform_metadata, utcnow
from tests.harness import POSTGRESQL_ONLY, NatsServer, wait_for


@catalogue.register(
    "pb.outboxtest.item.noted", version=1, producer="outboxtest", subject_field="item_id"
)
class ItemNotedV1(IntegrationEvent):
    """Emitted in tests of the outbox."""

    item_id: str
    seq: int


@dataclass
class Relay:
    db: Database
    link: BrokerLink
    relay: OutboxRelay
    settings: ServiceSettings

    async def record(self, count: int, start: int = 0) -> list[Envelope]:
        async with self.db.unit_of_work() as uow:
            return [
                uow.record(ItemNotedV1(item_id=f"item-{i}", seq=i))
                for i in range(start, start + count)
            ]

    async def stream_messages(self) -> int:
        info = await self.link.js.stream_info(self.settings.stream_name)
        return int(info.state.messages)

    async def unsent(self) -> int:
        return (await outbox_backlog(self.db))[0]


@pytest.fixture
async def relay(private_nats: NatsServer, database_url: str) -> AsyncIterator[Relay]:
    name = "outboxtest"
    settings = ServiceSettings(
        service_name=name,
        database_url=database_url,
        nats_url=private_nats.url,
        outbox_batch_size=100,
        outbox_poll_seconds=0.1,
        outbox_ack_timeout_seconds=1.0,
    )
    db = Database(database_url, source=f"/pb/{name}")
    async with db.engine.begin() as conn:
        await conn.run_sync(platform_metadata.create_all)
    link = BrokerLink(settings)
    relay = OutboxRelay(db, link, settings, ServiceMetrics(name), trace.get_tracer("t"))
    link.start()
    await asyncio.wait_for(link.ready.wait(), 10)
    relay.start()
    yield Relay(db, link, relay, settings)
    await relay.stop()
    await link.stop()
    await db.dispose()


async def test_recorded_events_are_published_in_order_and_marked_sent(relay: Relay) -> None:
    recorded = await relay.record(250)
    await wait_for(lambda: _zero(relay.unsent()), timeout=10)
    assert await relay.stream_messages() == 250
    sub = await relay.link.js.pull_subscribe("pb.outboxtest.>", stream=relay.settings.stream_name)
    msgs = await sub.fetch(250, timeout=5)
    while len(msgs) < 250:
        msgs += await sub.fetch(250 - len(msgs), timeout=5)
    headers = [m.headers or {} for m in msgs]
    assert [int(h["ce-subject"].split("-")[1]) for h in headers] == list(range(250))
    assert all(h["Nats-Msg-Id"] == h["ce-id"] for h in headers)
    # each message carries exactly its envelope's headers (the time read back from the store)
    assert headers[0]["ce-time"] == recorded[0].time.isoformat()
    assert headers == [e.headers() for e in recorded]


async def test_nothing_is_lost_while_nats_is_down(relay: Relay, private_nats: NatsServer) -> None:
    private_nats.stop()
    await relay.record(20)

    async def attempted() -> bool:
        async with relay.db.read() as session:
            attempts = (await session.execute(select(outbox.c.attempts))).scalars().all()
        return bool(max(attempts) >= 1)

    # Failed publishes are counted on the row, and the row stays unsent.
    await wait_for(attempted, timeout=10)
    assert await relay.unsent() == 20
    private_nats.start()
    await wait_for(lambda: _zero(relay.unsent()), timeout=30)
    assert await relay.stream_messages() == 20


async def test_republish_sends_a_time_range_again_with_the_same_ids(relay: Relay) -> None:
    await relay.record(10)
    await wait_for(lambda: _zero(relay.unsent()), timeout=10)
    now = utcnow()
    marked = await mark_for_republish(relay.db, now - timedelta(minutes=5), now + timedelta(1))
    assert marked == 10
    await wait_for(lambda: _zero(relay.unsent()), timeout=10)
    # same ids inside the duplicate window: JetStream keeps one copy of each
    assert await relay.stream_messages() == 10
    empty = await mark_for_republish(relay.db, now - timedelta(days=9), now - timedelta(days=8))
    assert empty == 0


async def test_events_committed_while_a_batch_is_marked_are_sent_without_waiting_for_it(
    relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    held, marked = asyncio.Event(), relay.relay._mark

    async def mark_held_first(*args: Any) -> None:
        if not held.is_set():
            await held.wait()  # the first batch's mark, as behind a long writer on SQLite
        await marked(*args)

    monkeypatch.setattr(relay.relay, "_mark", mark_held_first)
    await relay.record(5)
    await wait_for(lambda: _equal(relay.stream_messages(), 5), timeout=10)
    await relay.record(5, start=5)
    await wait_for(lambda: _equal(relay.stream_messages(), 10), timeout=10)
    assert await relay.unsent() == 10  # both sent while the first mark waits
    held.set()
    await wait_for(lambda: _zero(relay.unsent()), timeout=10)
    published = relay.relay.metrics.registry.get_sample_value(
        "pb_events_published_total", {"type": "pb.outboxtest.item.noted.v1"}
    )
    assert published == 10  # the batch being marked was not read and sent again
    sub = await relay.link.js.pull_subscribe("pb.outboxtest.>", stream=relay.settings.stream_name)
    msgs = await sub.fetch(10, timeout=5)
    while len(msgs) < 10:
        msgs += await sub.fetch(10 - len(msgs), timeout=5)
    assert [int((m.headers or {})["ce-subject"].split("-")[1]) for m in msgs] == list(range(10))


async def test_acknowledged_events_are_marked_for_many_cycles_at_once(
    relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Single commits (POSTs) are sent as they come but marked sent a few times a second: on
    SQLite each mark is a turn of the writer the requests wait for. Pending events are not
    read and sent again meanwhile."""
    marks, marked = [], relay.relay._mark

    async def counted(*args: Any) -> None:
        marks.append(args)
        await marked(*args)

    monkeypatch.setattr(relay.relay, "_mark", counted)
    for i in range(30):
        await relay.record(1, start=i)
        await asyncio.sleep(0.01)
    await wait_for(lambda: _zero(relay.unsent()), timeout=10)
    assert await relay.stream_messages() == 30
    assert len(marks) <= 6  # ~0.4 s of commits; one mark per cycle would be 10 or more
    published = relay.relay.metrics.registry.get_sample_value(
        "pb_events_published_total", {"type": "pb.outboxtest.item.noted.v1"}
    )
    assert published == 30


async def test_a_crash_before_the_mark_publishes_the_events_again_with_the_same_ids(
    relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    never = asyncio.Event()

    async def mark_never(*args: Any) -> None:
        await never.wait()  # the process dies before its mark is written

    monkeypatch.setattr(relay.relay, "_mark", mark_never)
    await relay.record(10)
    await wait_for(lambda: _equal(relay.stream_messages(), 10), timeout=10)
    await relay.relay.stop()  # the mark still waits: cancelled after the grace
    assert await relay.unsent() == 10
    metrics = ServiceMetrics("outboxtest")
    again = OutboxRelay(relay.db, relay.link, relay.settings, metrics, trace.get_tracer("t"))
    again.start()
    try:
        await wait_for(lambda: _zero(relay.unsent()), timeout=10)
        # published again, same ids: JetStream's duplicate window keeps one copy of each
        assert await relay.stream_messages() == 10
        published = metrics.registry.get_sample_value(
            "pb_events_published_total", {"type": "pb.outboxtest.item.noted.v1"}
        )
        assert published == 10
    finally:
        await again.stop()


def test_the_duplicate_window_covers_the_longest_unmarked_span_with_a_wide_margin() -> None:
    """An event is published again after a crash when its mark was not written: at most an
    ack timeout (waiting for its batch's acks) plus `_MARK_EVERY_SECONDS` after it was first
    published (the mark itself is one UPDATE). The duplicate window must drop that copy."""
    defaults = ServiceSettings.model_fields
    window = defaults["duplicate_window_seconds"].default
    ack_timeout = defaults["outbox_ack_timeout_seconds"].default
    assert window >= 10 * (_MARK_EVERY_SECONDS + ack_timeout)


async def test_an_event_no_stream_takes_stays_unsent_with_the_reason(
    relay: Relay,
) -> None:
    await relay.relay.stop()
    await relay.record(3)
    async with relay.db.unit_of_work() as uow:
        first = (await uow.session.execute(select(func.min(outbox.c.seq)))).scalar_one()
        await uow.session.execute(
            update(outbox).where(outbox.c.seq == first).values(type="pb.nowhere.item.noted.v1")
        )
    again = OutboxRelay(
        relay.db, relay.link, relay.settings, ServiceMetrics("outboxtest"), trace.get_tracer("t")
    )
    again.start()
    try:

        async def refused() -> bool:
            async with relay.db.read() as session:
                row = (await session.execute(select(outbox).where(outbox.c.seq == first))).one()
            return bool(row.attempts >= 1)

        await wait_for(refused, timeout=10)
        async with relay.db.read() as session:
            error = (
                await session.execute(select(outbox.c.last_error).where(outbox.c.seq == first))
            ).scalar_one()
        assert error.startswith("NoStreamResponseError")
        assert await relay.unsent() == 1  # the rest of its batch was stored meanwhile
        assert await relay.stream_messages() == 2
        async with relay.db.unit_of_work() as uow:
            await uow.session.execute(
                update(outbox)
                .where(outbox.c.seq == first)
                .values(type="pb.outboxtest.item.noted.v1")
            )
        await wait_for(lambda: _zero(relay.unsent()), timeout=10)
        assert await relay.stream_messages() == 3
    finally:
        await again.stop()


@pytest.mark.parametrize(
    ("data", "headers", "error"),
    [
        (b'{"stream":"PB_X","seq":7}', None, None),
        (b'{"stream":"PB_X","seq":7,"duplicate": true}', None, None),
        (b'{ "seq": 7, "stream": "PB_X" }', None, None),  # not the server's form: parsed
        (
            b'{"error":{"code":400,"err_code":10060,"description":"expected stream does not '
            b'match"},"stream":"PB_X","seq":0}',
            None,
            "APIError: code=400 err_code=10060 description='expected stream does not match'",
        ),
        (b'{"stream":"error","seq":7}', None, None),  # a stream named "error" is an ack
        (b"", {"Status": "503"}, "NoStreamResponseError: no stream takes the subject"),
        (b"", {"Status": "408"}, "unreadable reply from JetStream: b''"),
        (b"[1]", None, "unreadable reply from JetStream: b'[1]'"),
        (b'{"seq":7}', None, "unreadable reply from JetStream: b'{\"seq\":7}'"),
    ],
)
def test_a_reply_is_an_ack_only_when_jetstream_stored_the_message(
    data: bytes, headers: dict[str, str] | None, error: str | None
) -> None:
    reply = Msg(_client=None, subject="_INBOX.x.7", data=data, headers=headers)  # type: ignore[arg-type]
    assert ack_error(reply) == error


async def test_purge_keeps_unsent_rows_and_rows_inside_retention(relay: Relay) -> None:
    await relay.relay.stop()
    await relay.record(6)
    async with relay.db.unit_of_work() as uow:
        seqs = (await uow.session.execute(select(outbox.c.seq).order_by(outbox.c.seq))).scalars()
        old = list(seqs)[:2]
        await uow.session.execute(
            update(outbox).where(outbox.c.seq.in_(old)).values(sent_at=utcnow() - timedelta(days=8))
        )
        await uow.session.execute(
            update(outbox)
            .where(outbox.c.seq.not_in(old), outbox.c.seq % 2 == 0)
            .values(sent_at=utcnow() - timedelta(days=1))
        )
    removed = await purge_sent(relay.db, timedelta(days=7))
    assert removed == 2
    async with relay.db.read() as session:
        left = (await session.execute(select(outbox.c.seq))).scalars().all()
    assert len(left) == 4
    assert not set(old) & set(left)


async def _zero(count: Awaitable[int]) -> bool:
    return await count == 0


async def _equal(count: Awaitable[int], expected: int) -> bool:
    return await count == expected


@POSTGRESQL_ONLY  # SQLite serves one process; the leader lock is PostgreSQL's
async def test_two_relays_on_one_postgresql_store_publish_each_event_once_in_order(
    relay: Relay, database_url: str
) -> None:
    assert database_url.startswith("postgresql")
    second_metrics = ServiceMetrics("outboxtest")
    second = OutboxRelay(
        relay.db, relay.link, relay.settings, second_metrics, trace.get_tracer("t")
    )
    second.start()
    try:
        await relay.record(300)
        await wait_for(lambda: _zero(relay.unsent()), timeout=15)
        assert await relay.stream_messages() == 300
        published = [
            m.registry.get_sample_value(
                "pb_events_published_total", {"type": "pb.outboxtest.item.noted.v1"}
            )
            for m in (relay.relay.metrics, second_metrics)
        ]
        assert sorted(p or 0 for p in published) == [0, 300]
    finally:
        await second.stop()


@pytest.mark.parametrize("tracestate", [None, "vendor=1"])
@pytest.mark.parametrize("traceparent", [None, "00-" + "1" * 32 + "-" + "2" * 16 + "-01"])
def test_a_stored_event_is_published_with_the_headers_of_its_envelope(
    traceparent: str | None, tracestate: str | None
) -> None:
    envelope = Envelope.wrap(
        ItemNotedV1(item_id="item-1", seq=1),
        source="/pb/outboxtest",
        traceparent=traceparent,
        tracestate=tracestate,
    )
    assert message_headers(_stored(envelope)) == envelope.headers()


def _stored(envelope: Envelope) -> SimpleNamespace:
    """The outbox row the envelope is recorded as (the columns the relay's headers take)."""
    return SimpleNamespace(
        event_id=envelope.id,
        source=envelope.source,
        type=envelope.type,
        subject=envelope.subject,
        occurred_at=envelope.time,
        traceparent=envelope.traceparent,
        tracestate=envelope.tracestate,
    )


def test_headers_formatted_once_per_time_and_type_still_follow_each_row() -> None:
    """The relay formats a time and a type's schema once for many rows: an equal instant in
    another zone, and another schema base, still get their own headers."""
    zones = [UTC, timezone(timedelta(hours=8))]
    moment = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    for base in ("https://schemas.example/events", "https://other.example/v2"):
        for zone in zones:
            envelope = Envelope.wrap(
                ItemNotedV1(item_id="item-1", seq=1),
                source="/pb/outboxtest",
                time=moment.astimezone(zone),
            )
            row = _stored(envelope)
            assert message_headers(row, base) == envelope.headers(base)
    assert message_headers(row, base)["ce-time"] == "2026-11-30T10:00:00+08:00"
