"""The outbox relay: publishes recorded events to JetStream, pipelined, and marks them sent only
after JetStream acknowledged them. Also the retention purge and the re-publish of a time range."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from nats import errors as nats_errors
from nats.aio.client import Client, _validate_subject
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import Header
from opentelemetry import propagate, trace
from sqlalchemy import (
    BigInteger,
    String,
    any_,
    bindparam,
    delete,
    func,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select, Update

from libs.common.broker import BrokerLink
from libs.common.db import Database
from libs.common.events import (
    CE_PREFIX,
    CONTENT_TYPE,
    DEFAULT_SCHEMA_BASE_URL,
    MSG_ID_HEADER,
    SPEC_VERSION,
    TRACEPARENT_HEADER,
    TRACESTATE_HEADER,
    header_value,
    schema_url,
)
from libs.common.logging import get_logger
from libs.common.metrics import ServiceMetrics
from libs.common.settings import ServiceSettings
from libs.common.tables import outbox, utcnow
from libs.common.tasks import StopSignal, stop_loop, stop_task
from libs.common.tracing import is_sampled

log = get_logger(__name__)

#: In this order: `OutboxRelay._send` takes a row apart by position.
_COLUMNS = (
    outbox.c.seq,
    outbox.c.event_id,
    outbox.c.type,
    outbox.c.subject,
    outbox.c.source,
    outbox.c.occurred_at,
    outbox.c.data,
    outbox.c.traceparent,
    outbox.c.tracestate,
)


#: Events sent between two turns of the event loop: a batch sent in one go holds the loop for
#: its whole CPU time (tens of ms), and every request and worker of the service waits that long.
_YIELD_EVERY = 100

#: The shortest time between two sends of the relay after a small one. Woken by a commit sooner
#: than that after sending fewer than `_GATHER_BELOW` events, it waits out the rest before
#: reading, so the commits of that time go in one cycle (read, send, acks, mark: ~1-2 ms of CPU
#: and, on SQLite, a turn of the one writer the requests need) instead of one cycle each (single
#: POSTs). The first commit after a quiet spell goes at once, and so does all that follows a
#: cycle of `_GATHER_BELOW` or more (an import's chunks, a steady 1,000/s), whose cost is
#: already spread: there gathering saved little and added its wait to the commit-to-stream time.
_GATHER_SECONDS = 0.02
_GATHER_BELOW = 10

#: Acknowledged events are marked sent in one statement for many cycles, not one per cycle: on
#: SQLite every mark is a turn of the one writer that each request queues behind (~50 a second
#: under POST load, one per gathered cycle). Until marked, the relay keeps them in memory
#: (`_pending`) and reads after them. A mark is written once the oldest acknowledged event has
#: waited `_MARK_EVERY_SECONDS`, at `_MARK_AT_EVENTS` (a long drain), at once when the relay
#: has caught up with `_MARK_CAUGHT_UP_FROM` or more (a drain or an import chunk is done:
#: waiting saves nothing more there), and before the relay stops or backs off after a failure.
#: A crash (kill -9) before the mark publishes those events again with the same ids: the
#: streams' duplicate window (`duplicate_window_seconds`, 120 s by default; a test keeps it
#: far above this span plus the ack timeout) drops them, the consumers' inboxes too.
_MARK_EVERY_SECONDS = 0.2
_MARK_AT_EVENTS = 5_000
_MARK_CAUGHT_UP_FROM = 100


def _unsent_after(dialect: str) -> Select[Any]:
    """The next batch of unsent events after sequence `:after`, in order (`:after` 0: from the
    first); the batch size is bound as `:size`. Built once: a statement built per read cost
    as much CPU as running it. On SQLite `occurred_at` comes as the text stored
    (`stored_time` reads it)."""
    columns: list[Any] = list(_COLUMNS)
    if dialect == "sqlite":
        columns[5] = type_coerce(outbox.c.occurred_at, String()).label("occurred_at")
    return (
        select(*columns)
        .where(outbox.c.sent_at.is_(None), outbox.c.seq > bindparam("after"))
        .order_by(outbox.c.seq)
        .limit(bindparam("size"))
    )


def _sqlite_time_reader() -> Callable[[Any], Any]:
    read = outbox.c.occurred_at.type._cached_result_processor(sqlite.dialect(), None)
    assert read is not None
    return read


_read_sqlite_time = _sqlite_time_reader()


@functools.lru_cache(maxsize=256)
def stored_time(text: str) -> datetime:
    """An `occurred_at` as SQLite stores it, read as the column reads it (aware, UTC). The
    events of one transaction share their time (an import's chunk records thousands with one
    clock reading): each distinct text is read once, where the column's processing read every
    row's (a third of the relay's read)."""
    read: datetime = _read_sqlite_time(text)
    return read


def _mark_sent(dialect: str) -> Update:
    """`UPDATE .. SET sent_at = :sent_at` of the sequences `:seqs`, bound as ONE parameter (an
    array on PostgreSQL, a JSON array on SQLite, as `db.one_of` does) in a statement built once
    (`one_of` builds a fresh one, whose cache key and compilation cost more than the UPDATE)."""
    if dialect == "postgresql":
        chosen = outbox.c.seq == any_(bindparam("seqs", type_=ARRAY(BigInteger())))
    else:
        listed = func.json_each(bindparam("seqs")).table_valued("value")
        chosen = outbox.c.seq.in_(select(listed.c.value))
    return (
        update(outbox)
        .where(chosen)
        .values(sent_at=bindparam("sent_at", type_=outbox.c.sent_at.type))
    )


# The CloudEvents NATS-binding header names (as `Envelope.headers()` writes them).
SPECVERSION_HEADER = f"{CE_PREFIX}specversion"
ID_HEADER = f"{CE_PREFIX}id"
SOURCE_HEADER = f"{CE_PREFIX}source"
TYPE_HEADER = f"{CE_PREFIX}type"
SUBJECT_HEADER = f"{CE_PREFIX}subject"
TIME_HEADER = f"{CE_PREFIX}time"
DATACONTENTTYPE_HEADER = f"{CE_PREFIX}datacontenttype"
DATASCHEMA_HEADER = f"{CE_PREFIX}dataschema"


@functools.lru_cache(maxsize=256)
def _schema_header(type_name: str, schema_base_url: str) -> str:
    """The `ce-dataschema` header of an event type: the same for every event of the type."""
    return header_value(schema_url(type_name, schema_base_url))


@functools.lru_cache(maxsize=64)
def _time_header(occurred_at: datetime, offset: timedelta | None) -> str:
    """The `ce-time` header: the events of one transaction share their time (an import's
    chunk records thousands with one clock reading), so it is formatted once for all. The
    offset is part of the key because equal instants in other zones print differently."""
    return occurred_at.isoformat()


def message_headers(row: Any, schema_base_url: str = DEFAULT_SCHEMA_BASE_URL) -> dict[str, str]:
    """The CloudEvents NATS-binding headers of a stored event: `Envelope.headers()` of the
    envelope it was recorded as."""
    return _headers(
        row.event_id,
        row.type,
        row.subject,
        row.source,
        row.occurred_at,
        row.traceparent,
        row.tracestate,
        schema_base_url,
    )


def _headers(
    event_id: str,
    type_name: str,
    subject: str,
    source: str,
    occurred_at: datetime,
    traceparent: str | None,
    tracestate: str | None,
    schema_base_url: str,
) -> dict[str, str]:
    """`message_headers` from the row's values (the relay's hot path: it takes a row apart
    once, where each attribute of a SQLAlchemy row costs a lookup by name)."""
    headers = {
        SPECVERSION_HEADER: SPEC_VERSION,
        ID_HEADER: event_id,
        SOURCE_HEADER: source,
        TYPE_HEADER: type_name,
        SUBJECT_HEADER: header_value(subject),
        TIME_HEADER: _time_header(occurred_at, occurred_at.utcoffset()),
        DATACONTENTTYPE_HEADER: CONTENT_TYPE,
        DATASCHEMA_HEADER: _schema_header(type_name, schema_base_url),
        "content-type": CONTENT_TYPE,
        MSG_ID_HEADER: event_id,
    }
    if traceparent:
        headers[TRACEPARENT_HEADER] = traceparent
    if tracestate:
        headers[TRACESTATE_HEADER] = tracestate
    return headers


# The publish of a stored event as one HPUB frame made here, with its type's fixed header lines
# formatted once: nats-py's `Client.publish` checks and encodes each header of each event
# (~15 µs of an event's ~45 in the relay). Byte for byte what `Client.publish` sends for
# `_headers(...)`, checked as it does; tests/common/test_outbox_frames.py fails when nats-py
# changes either.


def _header_text(value: str) -> str:
    """nats-py's treatment of a header value (`Client._send_publish`): trimmed, CR and LF made
    spaces. Replaced only where there is one: `str.translate` with a table went through the
    table character by character (~1 µs a value, five values an event)."""
    value = value.strip()
    if "\r" in value or "\n" in value:
        value = value.replace("\r", " ").replace("\n", " ")
    return value


@functools.lru_cache(maxsize=256)
def _fixed_lines(type_name: str, source: str, schema_base_url: str) -> tuple[bytes, str, str]:
    """An event type's subject (checked as `Client.publish` checks it) and the header lines
    around an event's own values, in `_headers`' order: after `ce-id` up to `ce-subject`, and
    after `ce-time` up to `Nats-Msg-Id`."""
    _validate_subject(type_name)
    source_to_subject = (
        f"\r\n{SOURCE_HEADER}: {_header_text(source)}\r\n{TYPE_HEADER}: {_header_text(type_name)}"
        f"\r\n{SUBJECT_HEADER}: "
    )
    type_to_msg_id = (
        f"\r\n{DATACONTENTTYPE_HEADER}: {CONTENT_TYPE}\r\n"
        f"{DATASCHEMA_HEADER}: {_header_text(_schema_header(type_name, schema_base_url))}\r\n"
        f"content-type: {CONTENT_TYPE}\r\n{MSG_ID_HEADER}: "
    )
    return type_name.encode(), source_to_subject, type_to_msg_id


_FRAME_START = f"NATS/1.0\r\n{SPECVERSION_HEADER}: {SPEC_VERSION}\r\n{ID_HEADER}: "


def publish_frame(
    reply: str,
    event_id: str,
    type_name: str,
    subject: str,
    source: str,
    occurred_at: datetime,
    data: bytes,
    traceparent: str | None,
    tracestate: str | None,
    schema_base_url: str,
) -> bytes:
    """The HPUB frame `Client.publish(type_name, data, reply, headers=_headers(...))` sends."""
    subject_bytes, source_to_subject, type_to_msg_id = _fixed_lines(
        type_name, source, schema_base_url
    )
    event_id = _header_text(event_id)
    time_text = _header_text(_time_header(occurred_at, occurred_at.utcoffset()))
    trace_lines = f"{TRACEPARENT_HEADER}: {_header_text(traceparent)}\r\n" if traceparent else ""
    if tracestate:
        trace_lines += f"{TRACESTATE_HEADER}: {_header_text(tracestate)}\r\n"
    header = (
        f"{_FRAME_START}{event_id}{source_to_subject}{_header_text(header_value(subject))}"
        f"\r\n{TIME_HEADER}: {time_text}{type_to_msg_id}{event_id}\r\n{trace_lines}\r\n"
    ).encode()
    return b"HPUB %s %s %d %d\r\n%s%s\r\n" % (
        subject_bytes,
        reply.encode(),
        len(header),
        len(header) + len(data),
        header,
        data,
    )


async def send_frame(client: Client, frame: bytes, payload_size: int) -> None:
    """Send a frame as `Client.publish` sends the one it makes: the same refusals (closed,
    draining, the reconnect buffer full, too large), counters and flush."""
    if client.is_closed:
        raise nats_errors.ConnectionClosedError
    if client.is_draining_pubs:
        raise nats_errors.ConnectionDrainingError
    if not client.is_connected and (
        client._max_pending_size <= 0
        or payload_size + client._pending_data_size > client._max_pending_size
    ):
        raise nats_errors.OutboundBufferLimitError
    if payload_size > client._max_payload:
        raise nats_errors.MaxPayloadError
    client.stats["out_msgs"] += 1
    client.stats["out_bytes"] += payload_size
    await client._send_command(frame)
    if client._flush_queue is not None and client._flush_queue.empty():
        await client._flush_pending()


@dataclass
class BatchResult:
    published: int
    failed: int


@dataclass
class _InFlight:
    """A batch sent to JetStream whose acks are still coming: the sequences not answered yet,
    those acknowledged, and why the others were not (a refusal, a publish that raised)."""

    rows: Sequence[Any]
    waiting: set[int] = field(default_factory=set)
    acked: set[int] = field(default_factory=set)
    errors: dict[int, str] = field(default_factory=dict)
    answered: asyncio.Event = field(default_factory=asyncio.Event)

    def answer(self, seq: int, error: str | None) -> None:
        """JetStream's answer for the event `seq`, when it is one this batch waits for (an
        answer to an earlier attempt at the same event is as good: same id, same message)."""
        if seq not in self.waiting:
            return
        self.waiting.discard(seq)
        if error is None:
            self.acked.add(seq)
        else:
            self.errors[seq] = error
        if not self.waiting:
            self.answered.set()


#: JetStream's reply to a publish with no stream for its subject (nats-py's `publish_async`
#: raises `NoStreamResponseError` on it).
NO_RESPONDERS_STATUS = "503"


def ack_error(msg: Msg) -> str | None:
    """Why JetStream's reply to a publish is no acknowledgement, None when it is one (a stored
    message, or a duplicate of one: `{"stream": .., "seq": ..}`), as nats-py's
    `publish_async` judges it. A plain ack is told by its first bytes, without parsing it."""
    if msg.headers and msg.headers.get(Header.STATUS) == NO_RESPONDERS_STATUS:
        return "NoStreamResponseError: no stream takes the subject"
    data = msg.data
    if data.startswith(b'{"stream":') and b'"error"' not in data:
        return None
    try:
        reply = json.loads(data)
    except ValueError:
        return f"unreadable reply from JetStream: {data[:100]!r}"
    if not isinstance(reply, dict):
        return f"unreadable reply from JetStream: {data[:100]!r}"
    if "error" in reply:
        error = reply["error"] if isinstance(reply["error"], dict) else {}
        return (
            f"APIError: code={error.get('code')} err_code={error.get('err_code')} "
            f"description='{error.get('description')}'"
        )
    if "stream" not in reply or "seq" not in reply:
        return f"unreadable reply from JetStream: {data[:100]!r}"
    return None


class OutboxRelay:
    """Runs beside the service: drains the outbox in order, in batches, and never loses a row.

    With several replicas on PostgreSQL only the holder of an advisory lock relays, which keeps
    each stream in commit order; SQLite serves one process.
    """

    def __init__(
        self,
        db: Database,
        link: BrokerLink,
        settings: ServiceSettings,
        metrics: ServiceMetrics,
        tracer: trace.Tracer,
    ) -> None:
        self.db = db
        self.link = link
        self.settings = settings
        self.metrics = metrics
        self.tracer = tracer
        self._task: asyncio.Task[None] | None = None
        self._stopping = StopSignal()
        self._lock_conn: AsyncConnection | None = None
        self._lock_key = zlib.crc32(f"pb-outbox-{settings.service_name}".encode())
        # -inf, not 0.0: the monotonic clock starts near zero at boot (see InboxConsumer).
        self._last_housekeeping = float("-inf")
        self._last_gauges = float("-inf")
        self._last_send = float("-inf")
        self._last_sent_events = 0
        # A relay in a process of its own is woken by no commit (`db.outbox_written` is this
        # process's): it looks more often instead.
        self._poll = (
            settings.outbox_process_poll_seconds
            if settings.role == "relay"
            else settings.outbox_poll_seconds
        )
        self._unsent_after = _unsent_after(db.dialect)
        self._stored_time = stored_time if db.dialect == "sqlite" else None
        self._mark_sent = _mark_sent(db.dialect)
        # JetStream's acks come to one subscription of the relay, `<inbox>.<seq>` each (nats-py's
        # `publish_async` makes a future, a token and a semaphore turn per event, and parses every
        # ack into a `PubAck`: twice the CPU of the publish itself); `_sending` is the batch that
        # waits for them (one at a time).
        self._replies: Subscription | None = None
        self._replies_client: Client | None = None
        self._reply_prefix = ""
        self._sending: _InFlight | None = None
        # Acknowledged, not yet marked sent (`_MARK_EVERY_SECONDS`): `_unmarked` waits for the
        # next mark, `_pending` holds those and the ones a mark is writing, `_acked_through` is
        # the highest acknowledged sequence, read after while any is pending. A read from the
        # start (`_rescan`: after each mark) still finds what committed late below it (on
        # PostgreSQL sequences can commit out of order) and what `mark_for_republish` reopened.
        self._unmarked: list[tuple[int, str]] = []
        self._unmarked_since = 0.0
        self._pending: set[int] = set()
        self._acked_through = 0
        self._rescan = True
        self._marking: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        await stop_loop(self._task, self._stopping, grace=self.settings.outbox_ack_timeout_seconds)
        self._task = None
        await stop_task(self._marking)  # done, unless the loop was cancelled: then unmarked
        self._marking = None
        if self._replies is not None:
            with contextlib.suppress(Exception):
                await self._replies.unsubscribe()
            self._replies = self._replies_client = None
        if self._lock_conn is not None:
            with contextlib.suppress(Exception):
                await self._lock_conn.close()
            self._lock_conn = None

    async def _run(self) -> None:
        backoff = self.settings.outbox_poll_seconds
        while not self._stopping.is_set:
            try:
                if not self.link.ready.is_set():
                    await self._stopping.sleep(0.2, wake=self.link.ready)
                    continue
                if not await self._is_leader():
                    self._mark_if_due(caught_up=True)
                    await self._stopping.sleep(self.settings.outbox_poll_seconds * 4)
                    continue
                await self._gather()
                self.db.outbox_written.clear()
                result = await self.publish_batch()
                caught_up = result.published < self.settings.outbox_batch_size
                self._mark_if_due(caught_up=caught_up)
                await self._housekeeping()
                if result.failed:
                    await self._stopping.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                backoff = self.settings.outbox_poll_seconds
                if caught_up:
                    # wake at once when a transaction writes to the outbox (or the next mark
                    # is due), else poll
                    await self._stopping.sleep(self._idle_seconds(), wake=self.db.outbox_written)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay round failed")
                await self._stopping.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        await self._mark_all()

    async def _is_leader(self) -> bool:
        if self.db.dialect != "postgresql":
            return True
        if self._lock_conn is not None and not self._lock_conn.closed:
            return True
        conn = await self.db.engine.connect()
        got = await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._lock_key})
        if got.scalar_one():
            await conn.commit()
            self._lock_conn = conn
            log.info("outbox relay took the lead")
            return True
        await conn.close()
        return False

    async def publish_batch(self) -> BatchResult:
        """Publish the unsent events, batch after batch, until nothing more is waiting or a
        publish fails; returns what was published and failed.

        Pipelined: while one batch is sent and its acks come back, the batch after it is read
        (on a connection of its own). A batch is sent only when every event before it was
        acknowledged, so a failure stops the round with nothing after it published (as with
        one batch at a time). Acknowledged events are marked sent later, for many cycles at
        once (`_MARK_EVERY_SECONDS`), by a task of their own while the relay goes on; a crash
        before the mark publishes them again, with the same ids (JetStream's duplicate window
        and the consumers' inboxes drop them).
        """
        rows, read = await self._first_read()
        if not rows:
            return BatchResult(0, 0)
        result = BatchResult(0, 0)
        reading: asyncio.Task[Sequence[Any]] | None = None
        try:
            reading = self._read_after(read)
            current: _InFlight | None = await self._send(rows)
            while current is not None:
                upcoming: Sequence[Any] = await reading if reading is not None else ()
                reading = None
                acked, errors = await self._collect(current)
                result.published += len(acked)
                result.failed += len(errors)
                self._acknowledged(current.rows, acked)
                if errors:
                    await self._mark_all(current.rows, errors)
                    break
                current = None
                self._mark_if_due()
                if upcoming and not self._stopping.is_set:
                    reading = self._read_after(upcoming)
                    current = await self._send(upcoming)
                    await self._housekeeping()  # a long drain still updates the gauges
        finally:
            if reading is not None:  # read ahead, not to be sent in this round
                reading.cancel()
                await asyncio.wait([reading])
                if not reading.cancelled():
                    reading.exception()  # retrieved: a failed read ahead is not an error
        return result

    async def _first_read(self) -> tuple[Sequence[Any], Sequence[Any]]:
        """The round's first batch to send, and the read it came from (what to read after).
        It reads after the acknowledged events while any is pending, else (and once after
        each mark) from the start, leaving out the pending ones."""
        after = 0 if self._rescan or not self._pending else self._acked_through
        self._rescan = False
        # taken before the read: a mark that ends during it still counts as pending
        pending = frozenset(self._pending) if after == 0 else frozenset()
        while True:
            read = await self._read(after=after)
            rows = [row for row in read if row[0] not in pending] if pending else read
            if rows or len(read) < self.settings.outbox_batch_size:
                return rows, read
            after = read[-1].seq  # a whole batch of pending events: read on after it

    def _acknowledged(self, rows: Sequence[Any], acked: set[int]) -> None:
        """Keep the batch's acknowledged events for the next mark."""
        if not acked:
            return
        if not self._unmarked:
            self._unmarked_since = time.monotonic()
        for row in rows:
            if row[0] in acked:
                self._unmarked.append((row[0], row[2]))
        self._pending |= acked
        self._acked_through = max(self._acked_through, max(acked))

    def _mark_due(self, *, caught_up: bool = False) -> bool:
        count = len(self._unmarked)
        return bool(count) and (
            count >= _MARK_AT_EVENTS
            or (caught_up and count >= _MARK_CAUGHT_UP_FROM)
            or time.monotonic() - self._unmarked_since >= _MARK_EVERY_SECONDS
            or self._stopping.is_set
        )

    def _mark_if_due(self, *, caught_up: bool = False) -> None:
        """Start writing the mark of the acknowledged events when it is due, unless a mark
        is being written (that one writes the next when it is due by then)."""
        if (self._marking is None or self._marking.done()) and self._mark_due(caught_up=caught_up):
            self._marking = asyncio.create_task(self._mark_pending(), name="outbox-mark")

    def _idle_seconds(self) -> float:
        """How long an idle relay sleeps: until its next mark is due, at most a poll."""
        poll = self._poll
        if not self._unmarked or (self._marking is not None and not self._marking.done()):
            return poll
        return min(poll, max(0.0, self._unmarked_since + _MARK_EVERY_SECONDS - time.monotonic()))

    async def _mark_pending(self, failed: Sequence[tuple[int, str]] = ()) -> None:
        """Mark the acknowledged events sent (and count an attempt on `failed`), again while
        the next mark is due when one ends. A mark that fails leaves its events unsent: they
        are read and published again, with the same ids."""
        while True:
            sent, self._unmarked = self._unmarked, []
            try:
                await self._mark(sent, failed)
            except Exception:  # the events go again; the relay goes on
                log.exception("outbox mark failed: its events are published again")
            finally:
                self._pending.difference_update(seq for seq, _ in sent)
                self._rescan = True
            failed = ()
            if not self._mark_due():
                return

    async def _mark_all(
        self, rows: Sequence[Any] = (), errors: dict[int, str] | None = None
    ) -> None:
        """Write the mark now, with the attempts of the batch `rows` that failed (`errors`),
        after the one being written: before backing off, and when the relay stops."""
        if self._marking is not None:
            await asyncio.wait([self._marking])
            self._marking = None
        failed = [(row.seq, errors[row.seq]) for row in rows if errors and row.seq in errors]
        if self._unmarked or failed:
            await self._mark_pending(failed)

    async def _gather(self) -> None:
        """Let the commits of `_GATHER_SECONDS` after a small send gather before reading."""
        if self._last_sent_events >= _GATHER_BELOW:
            return
        wait = self._last_send + _GATHER_SECONDS - time.monotonic()
        if wait > 0:
            await self._stopping.sleep(wait)

    def _read_after(self, rows: Sequence[Any]) -> asyncio.Task[Sequence[Any]] | None:
        """The read of the batch after `rows`, started now (None when `rows` was not a full
        batch: nothing more was waiting)."""
        if len(rows) < self.settings.outbox_batch_size:
            return None
        return asyncio.create_task(self._read(after=rows[-1].seq))

    async def _read(self, *, after: int | None) -> Sequence[Any]:
        """The next batch of unsent events in order (after sequence `after`, when given: the
        batch before it is in flight and not yet marked)."""
        parameters = {"after": after or 0, "size": self.settings.outbox_batch_size}
        async with self.db.read_statement() as session:
            rows: Sequence[Any] = (await session.execute(self._unsent_after, parameters)).all()
        return rows

    async def _mark(
        self, sent: Sequence[tuple[int, str]], failed: Sequence[tuple[int, str]]
    ) -> None:
        """Mark the events `sent` (sequence, type) sent, and count an attempt on `failed`."""
        async with self.db.unit_of_work() as uow:
            if sent:
                if not failed:  # the one statement: on SQLite, BEGIN, UPDATE, COMMIT in one go
                    await self.db.commit_with_next_statement(uow.session)
                seqs = sorted(seq for seq, _ in sent)
                await uow.session.execute(
                    self._mark_sent,
                    {
                        "seqs": seqs if self.db.dialect == "postgresql" else json.dumps(seqs),
                        "sent_at": utcnow(),
                    },
                )
            for seq, error in failed:
                await uow.session.execute(
                    update(outbox)
                    .where(outbox.c.seq == seq)
                    .values(attempts=outbox.c.attempts + 1, last_error=error[:500])
                )
        for event_type, count in Counter(type_name for _, type_name in sent).items():
            self.metrics.events_published.labels(event_type).inc(count)
        if failed:
            log.warning(
                "outbox publish incomplete",
                published=len(sent),
                failed=len(failed),
                error=failed[0][1][:200],
            )

    def _publish_span(
        self, type_name: str, event_id: str, traceparent: str | None, tracestate: str | None
    ) -> trace.Span | None:
        """A producer span for a sampled trace, else None: the stored traceparent then travels
        as it is (same trace id, no span). This is the relay's hot path, so the span is started
        without being made current, and unsampled traces cost nothing."""
        if not traceparent or not is_sampled(traceparent):
            return None
        carrier = {"traceparent": traceparent}
        if tracestate:
            carrier["tracestate"] = tracestate
        return self.tracer.start_span(
            f"{type_name} publish",
            context=propagate.extract(carrier),
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": type_name,
                "messaging.message.id": event_id,
            },
        )

    async def _reply_subject(self, client: Client) -> str:
        """The subject JetStream's acks come back on (`<it>.<seq>`): the relay's one
        subscription on this client (nats-py renews it on a reconnect)."""
        if self._replies is None or self._replies_client is not client:
            self._reply_prefix = client.new_inbox()
            self._replies = await client.subscribe(f"{self._reply_prefix}.*", cb=self._on_reply)
            self._replies_client = client
        return self._reply_prefix

    async def _on_reply(self, msg: Msg) -> None:
        batch = self._sending
        if batch is None:
            return  # an answer after its batch gave up waiting: it is published again
        _, _, seq = msg.subject.rpartition(".")
        if seq.isdigit():
            batch.answer(int(seq), ack_error(msg))

    async def _send(self, rows: Sequence[Any]) -> _InFlight:
        """Send a batch without waiting on any ack (a JetStream publish: a NATS request whose
        reply is the ack); a publish that raises (the connection is gone) ends the batch there,
        the rest waits for the next round."""
        batch = self._sending = _InFlight(rows)
        self._last_send, self._last_sent_events = time.monotonic(), len(rows)
        client = self.link.client
        try:
            prefix = await self._reply_subject(client)
        except Exception as exc:  # noqa: BLE001 - recorded on the rows, retried next round
            batch.errors[rows[0].seq] = f"{type(exc).__name__}: {exc}"
            return batch
        publish, base_url = client.publish, self.settings.events_schema_base_url
        for i, row in enumerate(rows):
            if i and i % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a publish rarely yields: let requests in
            seq, event_id, type_name, subject, source, occurred_at, data, parent, state = row
            if self._stored_time is not None:
                occurred_at = self._stored_time(occurred_at)
            span = self._publish_span(type_name, event_id, parent, state)
            batch.waiting.add(seq)
            try:
                if span is None:
                    frame = publish_frame(
                        f"{prefix}.{seq}",
                        event_id,
                        type_name,
                        subject,
                        source,
                        occurred_at,
                        data,
                        parent,
                        state,
                        base_url,
                    )
                    await send_frame(client, frame, len(data))
                else:  # a sampled trace: the span's context in the headers, as a dict
                    headers = _headers(
                        event_id, type_name, subject, source, occurred_at, parent, state, base_url
                    )
                    propagate.inject(headers, context=trace.set_span_in_context(span))
                    await publish(type_name, data, reply=f"{prefix}.{seq}", headers=headers)
            except Exception as exc:  # noqa: BLE001 - recorded per row, retried next round
                batch.waiting.discard(seq)
                batch.errors[seq] = f"{type(exc).__name__}: {exc}"
                if span is not None:
                    span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
                break
            finally:
                if span is not None:
                    span.end()
        return batch

    async def _collect(self, batch: _InFlight) -> tuple[set[int], dict[int, str]]:
        """Wait for the batch's acks (up to the ack timeout); what was acked, and why the
        rest was not."""
        if batch.waiting:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    batch.answered.wait(), timeout=self.settings.outbox_ack_timeout_seconds
                )
        if self._sending is batch:
            self._sending = None
        errors = dict(batch.errors)
        for seq in batch.waiting:
            errors[seq] = "no acknowledgement from JetStream in time"
        acked = set(batch.acked)
        for row in batch.rows:
            if row.seq not in acked and row.seq not in errors:
                errors[row.seq] = "not attempted: an earlier publish in the batch failed"
        return acked, errors

    async def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_gauges >= 2.0:
            self._last_gauges = now
            backlog, oldest = await outbox_backlog(self.db)
            # acknowledged events wait up to `_MARK_EVERY_SECONDS` for their mark: not backlog
            # (the oldest age may still count one of them, by as long)
            self.metrics.outbox_backlog.set(max(0, backlog - len(self._pending)))
            self.metrics.outbox_oldest_age.set(
                (utcnow() - oldest).total_seconds() if oldest else 0.0
            )
        if now - self._last_housekeeping >= 3600.0:
            self._last_housekeeping = now
            removed = await purge_sent(self.db, timedelta(days=self.settings.outbox_retention_days))
            if removed:
                log.info("outbox rows past retention removed", rows=removed)


async def outbox_backlog(db: Database) -> tuple[int, datetime | None]:
    """How many events wait to be published, and when the oldest was recorded."""
    async with db.read() as session:
        count, oldest = (
            await session.execute(
                select(func.count(), func.min(outbox.c.created_at)).where(
                    outbox.c.sent_at.is_(None)
                )
            )
        ).one()
    if isinstance(oldest, str):  # SQLite's MIN() loses the column type
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return int(count), oldest


async def purge_sent(db: Database, retention: timedelta) -> int:
    """Delete rows sent before the retention window; unsent rows are never deleted."""
    cutoff = utcnow() - retention
    async with db.unit_of_work() as uow:
        result = await uow.session.execute(
            delete(outbox).where(outbox.c.sent_at.is_not(None), outbox.c.sent_at < cutoff)
        )
    return int(getattr(result, "rowcount", 0) or 0)


async def mark_for_republish(db: Database, since: datetime, until: datetime) -> int:
    """Mark the events recorded in [since, until) unsent, so the relay publishes them again.

    Their ids are unchanged: JetStream drops what it still has inside its duplicate window, and
    consumers' inboxes drop what they already applied.
    """
    async with db.unit_of_work() as uow:
        result = await uow.session.execute(
            update(outbox)
            .where(
                outbox.c.created_at >= since,
                outbox.c.created_at < until,
                outbox.c.sent_at.is_not(None),
            )
            .values(sent_at=None)
        )
    db.outbox_written.set()
    return int(getattr(result, "rowcount", 0) or 0)
