"""The relay's own HPUB frames against nats-py's `Client.publish`: each test fails if nats-py
changes what it sends or how it refuses, so the quicker path never silently differs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from nats import errors
from nats.aio.client import Client

from libs.common.outbox import _headers, publish_frame, send_frame

TYPE = "pb.outboxtest.item.noted.v1"
PARENT = "00-" + "1" * 32 + "-" + "2" * 16 + "-00"


class _Queue:
    """A flush queue with something in it, unless `empty` says otherwise."""

    def __init__(self, empty: bool = False) -> None:
        self._empty = empty

    def empty(self) -> bool:
        return self._empty


def _client(status: int = Client.CONNECTED, *, queue_empty: bool = False) -> Client:
    """A client as nats-py holds one once connected (or in `status`), sending nowhere."""
    client = Client()
    client._status = status
    client._flush_queue = _Queue(queue_empty)  # type: ignore[assignment]
    client._max_payload = 1_000
    client._max_pending_size = 10_000
    return client


ROWS: list[dict[str, Any]] = [
    {
        "event_id": "5f1c2d3e-0000-4000-8000-000000000001",
        "type_name": TYPE,
        "subject": "item-1",
        "source": "/pb/outboxtest",
        "occurred_at": datetime(2026, 11, 30, 2, 0, tzinfo=UTC),
        "data": b'{"item_id":"item-1","seq":1}',
        "traceparent": None,
        "tracestate": None,
    },
    {
        "event_id": " spaced-id ",
        "type_name": TYPE,
        "subject": "企业 1\r\nHPUB x",  # percent-encoded, as the binding asks
        "source": " /pb/outboxtest\n",
        "occurred_at": datetime(
            2026, 11, 30, 10, 0, 5, 123456, tzinfo=timezone(timedelta(hours=8))
        ),
        "data": b"",
        "traceparent": PARENT,
        "tracestate": "vendor=1 ,x=\r\n2",
    },
    {
        "event_id": "id-3",
        "type_name": TYPE,
        "subject": "item-3",
        "source": "/pb/outboxtest",
        "occurred_at": datetime(2026, 11, 30, 2, 0, tzinfo=UTC),
        "data": b"x" * 500,
        "traceparent": PARENT,
        "tracestate": None,
    },
]


@pytest.mark.parametrize("base", ["https://schemas.example/events", " https://other.example/v2 "])
@pytest.mark.parametrize("row", ROWS)
async def test_a_frame_is_byte_for_byte_what_nats_py_sends(row: dict[str, Any], base: str) -> None:
    reply = "_INBOX.abc.17"
    headers = _headers(
        row["event_id"],
        row["type_name"],
        row["subject"],
        row["source"],
        row["occurred_at"],
        row["traceparent"],
        row["tracestate"],
        base,
    )
    theirs, ours = _client(), _client()
    await theirs.publish(row["type_name"], row["data"], reply=reply, headers=headers)
    frame = publish_frame(reply, **row, schema_base_url=base)
    await send_frame(ours, frame, len(row["data"]))
    assert theirs._pending == [frame]
    assert ours._pending == [frame]
    assert ours._pending_data_size == theirs._pending_data_size
    assert ours.stats == theirs.stats


async def _publish(client: Client, data: bytes) -> None:
    await client.publish(TYPE, data, reply="_INBOX.abc.1", headers={"Nats-Msg-Id": "a"})


async def _send(client: Client, data: bytes) -> None:
    row = {**ROWS[0], "data": data}
    await send_frame(client, publish_frame("_INBOX.abc.1", **row, schema_base_url="x"), len(data))


@pytest.mark.parametrize(
    ("make", "data", "refusal"),
    [
        (lambda: _client(Client.CLOSED), b"{}", errors.ConnectionClosedError),
        (lambda: _client(Client.DRAINING_PUBS), b"{}", errors.ConnectionDrainingError),
        (lambda: _client(Client.RECONNECTING), b"x" * 900, None),  # buffered meanwhile
        (
            lambda: _buffer_full(_client(Client.RECONNECTING)),
            b"{}",
            errors.OutboundBufferLimitError,
        ),
        (lambda: _client(), b"x" * 1_001, errors.MaxPayloadError),
    ],
)
async def test_a_frame_is_refused_or_buffered_as_nats_py_does(
    make: Callable[[], Client], data: bytes, refusal: type[Exception] | None
) -> None:
    for send in (_publish, _send):
        client = make()
        if refusal is None:
            await send(client, data)
            assert len(client._pending) == 1
        else:
            with pytest.raises(refusal):
                await send(client, data)
            assert client._pending == []


def _buffer_full(client: Client) -> Client:
    client._pending_data_size = client._max_pending_size
    return client


@pytest.mark.parametrize("send", [_publish, _send])
async def test_a_frame_is_flushed_when_nats_py_would_flush(
    send: Callable[[Client, bytes], Awaitable[None]],
) -> None:
    client = _client(queue_empty=True)
    flushed: list[bool] = []

    async def flush(force_flush: bool = False) -> None:
        flushed.append(force_flush)

    client._flush_pending = flush  # type: ignore[method-assign]
    await send(client, b"{}")
    assert flushed == [False]


def test_a_type_no_subject_can_carry_is_refused_as_nats_py_refuses_it() -> None:
    with pytest.raises(errors.BadSubjectError):
        publish_frame(
            "_INBOX.abc.1", **{**ROWS[0], "type_name": "pb.bad type"}, schema_base_url="x"
        )
