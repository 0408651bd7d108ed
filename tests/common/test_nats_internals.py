"""The private parts of nats-py the consumers use for speed: each test fails if nats-py changes
under them, so the quicker path is never silently skipped or wrong."""

from __future__ import annotations

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from libs.common import inbox
from libs.common.broker import parse_header_lines, quicken_header_parsing
from tests.harness import NatsServer

RAW = (
    b"ce-specversion: 1.0\r\n"
    b"ce-id: 5f1c\r\n"
    b"ce-time:2026-11-30T10:00:00+00:00\r\n"
    b"ce-source:\t/pb/registry \r\n"
    b"Nats-Msg-Id: a:b:c\r\n"
    b"bad name: dropped\r\n"
    b"bad\x1cname: dropped\r\n"
    b"\xe5\x90\x8d: dropped\r\n"
    b"no colon at all\r\n"
    b"ce-subject: \xe4\xbc\x81\xff\r\n"
    b"\r\n"
)


def test_the_quicker_header_parser_reads_as_nats_py_does() -> None:
    parsed = parse_header_lines(RAW)
    assert parsed == Client._parse_header_lines(RAW)
    assert parsed["ce-source"] == "/pb/registry"
    assert "bad name" not in parsed


async def test_a_client_reads_headers_with_the_quicker_parser() -> None:
    client = Client()
    quicken_header_parsing(client)
    called: list[bytes] = []

    def parse(raw: bytes) -> dict[str, str]:
        called.append(raw)
        return parse_header_lines(raw)

    # nats-py reads a message's headers through the instance: the attribute is what it calls
    assert client._parse_header_lines is parse_header_lines
    client._parse_header_lines = parse  # type: ignore[method-assign]
    headers = await client._process_headers(b"NATS/1.0\r\n" + RAW)
    assert called
    assert headers == Client._parse_header_lines(RAW)


@pytest.mark.parametrize("raw", [b"NATS/1.0 404 No Messages\r\n\r\n", b"NATS/1.0 408\r\n\r\n"])
async def test_status_messages_read_the_same(raw: bytes) -> None:
    quick = Client()
    quicken_header_parsing(quick)
    assert await quick._process_headers(raw) == await Client()._process_headers(raw)


async def test_a_quickened_fetch_takes_what_is_queued_without_nats_pys_wait(
    nats_server: NatsServer,
) -> None:
    """Same messages, in the same order, with the pending size kept right; a message already
    queued is taken without nats-py's `next_msg`, which is still used to wait; a fetch of an
    empty stream still times out."""
    client = await nats.connect(nats_server.url)
    try:
        js = client.jetstream()
        stream = "PB_NATS_INTERNALS"
        await js.add_stream(StreamConfig(name=stream, subjects=["nats.internals.>"]))
        for i in range(300):
            await js.publish("nats.internals.x", str(i).encode())
        sub = await js.pull_subscribe(
            "nats.internals.>",
            durable="internals",
            stream=stream,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT),
        )
        waits: list[float | None] = []
        original = sub._sub.next_msg

        async def counted(timeout: float | None = 1.0) -> Msg:
            waits.append(timeout)
            return await original(timeout)

        sub._sub.next_msg = counted  # type: ignore[method-assign]
        inbox.quicken_fetch(sub)
        got: list[Msg] = []
        while len(got) < 300:
            got += await sub.fetch(100, timeout=2)
        assert [m.data for m in got] == [str(i).encode() for i in range(300)]
        assert len(waits) < 30  # once per arrival at most, not once per message
        assert sub._sub._pending_size == 0
        assert sub._sub._pending_queue.empty()
        # the sequences read from the reply subject are nats-py's
        assert [inbox.delivery_sequences(m) for m in got] == [
            (m.metadata.sequence.consumer, m.metadata.sequence.stream) for m in got
        ]
        for m in got:
            await m.ack()
        # nats-py raises its own TimeoutError, or the builtin one when its deadline ran out
        # before the lingering request (its fetch, by timing): the consumer catches both
        with pytest.raises((NatsTimeoutError, TimeoutError)):
            await sub.fetch(10, timeout=0.3)
    finally:
        await client.close()
