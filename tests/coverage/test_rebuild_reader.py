"""The rebuild's stream reader never skips a delivery the client lost (real NATS): a lost one in
the middle, or the last ones before the end, make it read the stream again after the last message
it kept, and every event is noted once; a span ends at its end, also when the stream ends before
it; it keeps at most two batches asked ahead (of files, for an import's events that carry several);
its quicker header parser reads what nats-py's does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.coverage import rebuild_reader
from services.coverage.rebuild_reader import SOURCES, Notes, Span, _Reader, read_span
from tests.coverage.feed import ProducerStream, imported, registered, updated
from tests.harness import NatsServer


async def consumer(stream: ProducerStream, delivered_elsewhere: int) -> str:
    """A consumer of the stream from its start whose first deliveries went to someone else."""
    info = await stream.js.add_consumer(
        "PB_REGISTRY",
        ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL,
            filter_subject="pb.registry.>",
            ack_policy=AckPolicy.NONE,
            max_ack_pending=-1,
        ),
    )
    if delivered_elsewhere:
        elsewhere = await stream.js.pull_subscribe_bind(info.name, stream="PB_REGISTRY")
        assert len(await elsewhere.fetch(delivered_elsewhere, timeout=2)) == delivered_elsewhere
    return str(info.name)


@pytest.fixture(name="stream")
async def five_registered(
    private_nats: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ProducerStream]:
    """A stream of five registrations, read with a short wait for the next message."""
    monkeypatch.setattr(rebuild_reader, "FETCH_TIMEOUT", 0.3)
    async with ProducerStream.on(private_nats.url) as stream:
        await stream.publish(*(registered(n) for n in range(5)))
        yield stream


async def first_batch(stream: ProducerStream, delivered_elsewhere: int) -> tuple[_Reader, Notes]:
    """A reader of the five events whose first `delivered_elsewhere` deliveries were lost to it,
    and its first batch."""
    reader = _Reader(
        stream.js._nc, SOURCES[0], await consumer(stream, delivered_elsewhere), start=1, end=5
    )
    await reader.open()
    try:
        return reader, await reader.batch(10, gaps=0)
    finally:
        await reader.close()


async def test_a_lost_delivery_is_read_again(stream: ProducerStream) -> None:
    # the first two deliveries lost in the middle: the third is a gap
    reader, notes = await first_batch(stream, delivered_elsewhere=2)
    assert reader.lost
    assert notes.last == 0
    assert notes.applied == 0

    # every delivery lost, the last ones before the end: nothing more comes, yet it is a gap
    reader, notes = await first_batch(stream, delivered_elsewhere=5)
    assert reader.lost
    assert notes.last == 0

    # read from a sequence, each event once, ending at the span's end
    read: list[Notes] = [n async for n in read_span(stream.js._nc, Span(0, 2, 5), batch_size=2)]
    assert [n.last for n in read] == [3, 5]
    assert sum(n.applied for n in read) == 4
    filed = [x[0][0] for n in read for _, items in n.calls for x in items]
    assert filed == [f"org-{n}" for n in range(1, 5)]  # sequences 2..5


async def test_a_span_ends_where_the_stream_does(stream: ProducerStream) -> None:
    client = stream.js._nc

    # messages after the span's end are not read
    read = [n async for n in read_span(client, Span(0, 1, 3), batch_size=10)]
    assert [n.last for n in read] == [3]
    assert sum(n.applied for n in read) == 3

    # a span past the stream's last message (deleted since, say) ends when the consumer has
    # nothing more pending, rather than waiting for messages that will never come
    read = [n async for n in read_span(client, Span(0, 1, 7), batch_size=10)]
    assert [n.last for n in read] == [5, 7]
    assert sum(n.applied for n in read) == 5
    assert sum(n.gaps for n in read) == 0

    # its pull requests lost (a reconnection, say): nothing arrives, nothing was delivered,
    # the consumer has messages pending, so it asks again
    reader = _Reader(client, SOURCES[0], await consumer(stream, 0), start=1, end=5)
    await reader.open()
    reader._asked = 10  # as if asked for and on their way
    notes = await reader.batch(10, gaps=0)
    await reader.close()
    assert not reader.lost
    assert (notes.last, notes.applied) == (5, 5)


async def test_it_keeps_at_most_two_batches_ahead(private_nats: NatsServer) -> None:
    async with ProducerStream.on(private_nats.url) as stream:
        await stream.publish(*(registered(n) for n in range(30)))
        client = stream.js._nc
        reader = _Reader(client, SOURCES[0], await consumer(stream, 0), start=1, end=30)
        await reader.open()
        try:
            last = []
            for _ in range(5):
                last.append((await reader.batch(5, gaps=0)).last)
                await client.flush()
                await asyncio.sleep(0.1)  # whatever was asked for has arrived by now
                assert len(reader._arrived) <= 10
        finally:
            await reader.close()
        assert last == [5, 10, 15, 20, 25]


async def test_a_batch_counts_the_files_an_imports_events_carry(private_nats: NatsServer) -> None:
    """An import's events carry several files each: a batch holds as many files as a batch of
    one-file events would (not that many events), and asks that few messages ahead."""
    async with ProducerStream.on(private_nats.url) as stream:
        files = [registered(n) for n in range(20)] + [updated(registered(20), staff_count=30)]
        events = [imported(*files[i : i + 4]) for i in range(0, 20, 4)] + [imported(files[20])]
        await stream.publish(*events)
        client = stream.js._nc
        reader = _Reader(client, SOURCES[0], await consumer(stream, 0), start=1, end=6)
        await reader.open()
        try:
            batches: list[Notes] = []
            while not batches or batches[-1].last < 6:
                batches.append(await reader.batch(8, gaps=0))
                await client.flush()
                await asyncio.sleep(0.1)  # whatever was asked for has arrived by now
                assert len(reader._arrived) <= 4  # two batches of 8 files: 4 messages
        finally:
            await reader.close()
    assert [n.noted for n in batches] == [8, 8, 5]
    assert [n.applied for n in batches] == [2, 2, 2]
    noted = [x[0][0] for n in batches for _, items in n.calls for x in items]
    assert noted == [f"org-{n}" for n in range(21)]
