"""The rebuild's stream reader never skips a delivery the client lost (real NATS): a lost one in
the middle, or the last ones before the end, make it read the stream again after the last message
it kept, and every event is noted once."""

from __future__ import annotations

import pytest
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.coverage import rebuild_reader
from services.coverage.rebuild_reader import SOURCES, Notes, Span, _Reader, read_span
from tests.coverage.feed import ProducerStream, registered
from tests.harness import NatsServer


async def consumer(stream: ProducerStream) -> JetStreamContext.PullSubscription:
    return await stream.js.pull_subscribe(
        "pb.registry.>",
        durable=None,
        stream="PB_REGISTRY",
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE, max_ack_pending=-1
        ),
    )


async def test_a_lost_delivery_is_read_again(
    private_nats: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rebuild_reader, "FETCH_TIMEOUT", 0.3)
    async with ProducerStream.on(private_nats.url) as stream:
        await stream.publish(*(registered(n) for n in range(5)))

        # the first two deliveries lost in the middle: the third is a gap
        lossy = await consumer(stream)
        await lossy.fetch(2, timeout=2)
        reader = _Reader(lossy, SOURCES[0], end=5)
        notes = await reader.batch(10, gaps=0)
        assert reader.lost
        assert notes.last == 0
        assert notes.applied == 0

        # every delivery lost, the last ones before the end: nothing more comes, yet it is a gap
        tail = await consumer(stream)
        await tail.fetch(5, timeout=2)
        reader = _Reader(tail, SOURCES[0], end=5)
        notes = await reader.batch(10, gaps=0)
        assert reader.lost
        assert notes.last == 0

        # read from a sequence, each event once, ending at the span's end
        read: list[Notes] = [n async for n in read_span(stream.js._nc, Span(0, 2, 5), batch_size=2)]
        assert [n.last for n in read] == [3, 5]
        assert sum(n.applied for n in read) == 4
        filed = [x[0][0] for n in read for _, items in n.calls for x in items]
        assert filed == [f"org-{n}" for n in range(1, 5)]  # sequences 2..5
