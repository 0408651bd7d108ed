"""The rebuild's stream reader: a process of its own that fetches the streams' messages and decodes
them, while the rebuild's process writes (the machine's second core).

It reads each stream it is asked for in order, from a sequence to a sequence, and decodes every
message exactly as the live consumer does (`Envelope.from_nats`, the event type's model in
`handlers.PROJECTED`, its applier): an event coverage does not read, or cannot (a malformed
envelope, data its model rejects), is counted as skipped. What the appliers note on the projector
is recorded in order (`Notes`) and sent, a batch at a time, pickled over a pipe: the rebuild's
process replays the notes on its `Projector`, so the projection sees what it would have seen had
it decoded them itself. One batch is built while the previous one waits in the pipe: memory holds
a few batches whatever the stream's length.

Every delivery is checked against the consumer's own sequence (1, 2, 3, ...: nothing is acked or
redelivered): a message the client lost is a gap, and the stream is read again from after the last
message received, rather than a silently smaller projection.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import math
import pickle
import resource
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field, fields
from multiprocessing.connection import Connection
from operator import attrgetter
from typing import Any, cast

from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from libs.common.broker import quicken_header_parsing
from libs.common.events import Envelope, MalformedEnvelope
from libs.common.inbox import delivery_sequences
from services.coverage.domain.facts import CoverageFacts
from services.coverage.handlers import (
    PROJECTED,
    PROJECTED_TRAINING,
    Apply,
    registry_events,
    training_events,
)
from services.coverage.service.projection import (
    BranchChanged,
    LinkChanged,
    OrganizationFiled,
    OrganizationLeft,
    Projector,
    RoutineJudged,
)

#: How long a wait for the next message lasts before the consumer is asked what it delivered.
FETCH_TIMEOUT = 2.0
#: How long a pull request waits on the server for messages not yet there (the span's last ones).
PULL_EXPIRES = 30.0
#: Messages decoded between two turns of the event loop.
DECODE_CHUNK = 1_000
#: How long the server keeps the reader's ephemeral consumer with no pull waiting (its default,
#: 5 s, is shorter than a batch's write on a busy machine: the consumer vanished mid-rebuild).
INACTIVE_THRESHOLD = 600.0


@dataclass(frozen=True)
class Source:
    """A stream replayed, in this order: the subjects read and how each event type applies."""

    stream: str
    subjects: str
    projected: dict[str, tuple[type[Any], Apply]]
    consumer: str  # the live consumer of the stream


SOURCES: tuple[Source, ...] = (
    Source(registry_events.stream, "pb.registry.>", PROJECTED, registry_events.name),
    Source(training_events.stream, "pb.training.>", PROJECTED_TRAINING, training_events.name),
)


@dataclass(frozen=True)
class Span:
    """Read `SOURCES[source]`'s stream from sequence `start` to `end`."""

    source: int
    start: int
    end: int


#: What each of the `Projector`'s noting methods takes (a list of these).
NOTED: dict[str, type[Any]] = {
    "organizations_filed": OrganizationFiled,
    "organizations_left": OrganizationLeft,
    "branches_changed": BranchChanged,
    "instructors_assigned": LinkChanged,
    "instructors_unassigned": LinkChanged,
    "mass_organizations_established": LinkChanged,
    "mass_organizations_dissolved": LinkChanged,
    "routines_judged": RoutineJudged,
}
_FIELDS = {
    kind: attrgetter(*(f.name for f in fields(kind))) for kind in {*NOTED.values(), CoverageFacts}
}


@dataclass
class Notes:
    """A batch of one stream, decoded: what its events note on the projector, in stream order.

    The items travel as tuples of their fields (pickling a tuple of strings, numbers and dates
    costs a fraction of pickling the dataclass), made into their classes again on replay."""

    stream: str
    last: int = 0  # the stream sequence of its last message
    applied: int = 0  # events noted
    noted: int = 0  # the items they noted (an import's event notes each of its files)
    skipped: int = 0  # other event types, or messages that could not be read
    gaps: int = 0  # deliveries the client lost, read again
    calls: list[tuple[str, list[tuple[Any, ...]]]] = field(default_factory=list)

    def note(self, method: str, items: Iterable[Any]) -> None:
        """Record a call of the projector's `method` with these items."""
        values = _FIELDS[NOTED[method]]
        if method == "organizations_filed":
            facts = _FIELDS[CoverageFacts]
            packed = [(facts(x.facts), *values(x)[1:]) for x in items]
        else:
            packed = [values(x) for x in items]
        self.calls.append((method, packed))
        self.noted += len(packed)

    def replay(self, projector: Projector) -> None:
        """Make the recorded calls on `projector`."""
        for method, packed in self.calls:
            kind = NOTED[method]
            if method == "organizations_filed":
                items = [kind(CoverageFacts(*x[0]), *x[1:]) for x in packed]
            else:
                items = [kind(*x) for x in packed]
            getattr(projector, method)(items)


@dataclass(frozen=True)
class Done:
    """The reader's last word when every span has been read."""

    peak_rss_mb: float  # its peak resident memory
    cpu_seconds: float  # its CPU time, user and system


@dataclass(frozen=True)
class Failed:
    """The reader's last word when it failed."""

    error: str


class _Recorder:
    """Stands in for the `Projector` when the appliers run in the reader: records what they note."""

    def __init__(self, notes: Notes) -> None:
        self._note = notes.note

    def organizations_filed(self, items: Any) -> None:
        self._note("organizations_filed", items)

    def organizations_left(self, items: Any) -> None:
        self._note("organizations_left", items)

    def branches_changed(self, items: Any) -> None:
        self._note("branches_changed", items)

    def instructors_assigned(self, items: Any) -> None:
        self._note("instructors_assigned", items)

    def instructors_unassigned(self, items: Any) -> None:
        self._note("instructors_unassigned", items)

    def mass_organizations_established(self, items: Any) -> None:
        self._note("mass_organizations_established", items)

    def mass_organizations_dissolved(self, items: Any) -> None:
        self._note("mass_organizations_dissolved", items)

    def routines_judged(self, items: Any) -> None:
        self._note("routines_judged", items)


def run_reader(nats_url: str, batch_size: int, connection: Connection) -> None:
    """The reader process: receives the spans to read (a list of `Span`), then sends a pickled
    `Notes` per batch of up to `batch_size` messages, and `Done` at the end (`Failed` on an
    error)."""
    try:
        asyncio.run(_read_all(nats_url, batch_size, connection))
    except BaseException as exc:
        connection.send_bytes(pickle.dumps(Failed(f"{type(exc).__name__}: {exc}")))
        raise
    finally:
        connection.close()


async def _read_all(nats_url: str, batch_size: int, connection: Connection) -> None:
    # Everything loaded so far lives as long as the process: the collector need not walk it
    # again and again while a batch's millions of small objects come and go (about 1 s of CPU
    # per 100,000 events).
    gc.freeze()
    client = Client()
    quicken_header_parsing(client)
    await client.connect(nats_url, connect_timeout=5)
    spans: list[Span] = pickle.loads(await asyncio.to_thread(connection.recv_bytes))
    # A batch is sent in a thread while the next one is fetched: the pipe blocks until the
    # rebuild's process takes it, and a blocked event loop stops reading the socket (the server
    # then drops the connection as a slow consumer).
    sending: asyncio.Future[None] | None = None
    try:
        for span in spans:
            async for notes in read_span(client, span, batch_size):
                data = pickle.dumps(notes, protocol=pickle.HIGHEST_PROTOCOL)
                if sending is not None:
                    await sending
                sending = asyncio.ensure_future(asyncio.to_thread(connection.send_bytes, data))
        if sending is not None:
            await sending
        usage = resource.getrusage(resource.RUSAGE_SELF)
        done = Done(usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)
        connection.send_bytes(pickle.dumps(done))
    finally:
        await client.close()


async def read_span(client: Any, span: Span, batch_size: int) -> AsyncIterator[Notes]:
    """The span's messages decoded, a batch of up to `batch_size` at a time (the last one's
    `last` is the span's end)."""
    source = SOURCES[span.source]
    js = client.jetstream()
    start = span.start
    gaps = 0
    while start <= span.end:
        consumer = await js.add_consumer(
            source.stream,
            ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=start,
                filter_subject=source.subjects,
                ack_policy=AckPolicy.NONE,
                max_ack_pending=-1,
                inactive_threshold=INACTIVE_THRESHOLD,
            ),
        )
        reader = _Reader(client, source, consumer.name, start, span.end)
        await reader.open()
        try:
            while start <= span.end and not reader.lost:
                notes = await reader.batch(batch_size, gaps)
                gaps = 0
                if notes.last:
                    start = notes.last + 1
                    yield notes
        finally:
            await reader.close()
        gaps += 1


class _Reader:
    """One consumer's deliveries, checked against its own sequence.

    It asks for the messages itself (pull requests to its own inbox, up to two batches ahead of
    what has arrived) rather than through nats-py's `fetch`, which waits for each message in a
    task of its own: that cost as much CPU as all the decoding. So the next messages arrive while
    the last are decoded, a chunk at a time with the event loop let run in between (a loop that
    does not read its socket gets the connection cut as a slow consumer)."""

    def __init__(self, client: Any, source: Source, consumer: str, start: int, end: int) -> None:
        self.client = client
        self.source = source
        self.consumer = consumer
        self.end = end
        self.delivered = 0  # the consumer's sequence of the last message received
        self.lost = False  # a delivery was lost: the stream is read again after the last kept
        self._arrived: list[Any] = []
        self._arrival = asyncio.Event()
        self._asked = 0  # messages asked for that have not arrived
        self._reached = start - 1  # the stream sequence of the last message arrived
        # Items noted per message so far (an import's event carries several files): a batch
        # is as many items as a batch of one-item messages, and so is what is asked for ahead.
        self._taken = 0
        self._noted = 0
        self._inbox = ""
        self._subscription: Any = None

    async def open(self) -> None:
        self._inbox = self.client.new_inbox()
        self._subscription = await self.client.subscribe(self._inbox, cb=self._arrive)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._subscription.unsubscribe()
        with contextlib.suppress(Exception):
            await self.client.jetstream().delete_consumer(self.source.stream, self.consumer)

    async def _arrive(self, msg: Any) -> None:
        if not msg.data and msg.headers and "Status" in msg.headers:
            return  # a pull request expired, or the like: waiting says what happened
        self._arrived.append(msg)
        self._asked -= 1
        self._arrival.set()

    async def _ask(self, size: int) -> None:
        """Keep up to two batches asked for or arrived and not yet taken (never more than the
        span can still hold): what waits in memory stays bounded however fast they arrive."""
        size = self._messages(size)
        remaining = self.end - self._reached
        wanted = min(2 * size, remaining) - max(self._asked, 0) - len(self._arrived)
        if wanted >= min(size, remaining) and wanted > 0:
            request = {"batch": wanted, "expires": int(PULL_EXPIRES * 1e9)}
            await self.client.publish(
                f"$JS.API.CONSUMER.MSG.NEXT.{self.source.stream}.{self.consumer}",
                json.dumps(request).encode(),
                reply=self._inbox,
            )
            self._asked = max(self._asked, 0) + wanted

    def _messages(self, items: int) -> int:
        """How many messages hold about `items` items, by the items per message so far (at
        least one each; one message first, before anything says how many)."""
        if not self._taken:
            return 1
        return max(1, math.ceil(items / max(1.0, self._noted / self._taken)))

    async def _take(self, most: int) -> list[Any]:
        """Up to `most` of the messages arrived, waiting `FETCH_TIMEOUT` for one at most."""
        if not self._arrived:
            self._arrival.clear()
            try:
                await asyncio.wait_for(self._arrival.wait(), FETCH_TIMEOUT)
            except TimeoutError:
                return []
        taken = self._arrived[:most]
        del self._arrived[:most]
        return taken

    async def batch(self, size: int, gaps: int) -> Notes:
        """Up to `size` messages decoded, or messages noting up to `size` items (an import's
        events note several files each): taken until the batch is full, reaches the end or a
        gap (a transaction per few dozen events costs more than their work). `last` 0: none
        came."""
        notes = Notes(self.source.stream, gaps=gaps)
        received = 0
        while max(received, notes.noted) < size and notes.last < self.end and not self.lost:
            await self._ask(size)
            most = self._messages(size - max(received, notes.noted))
            msgs = await self._take(min(most, DECODE_CHUNK))
            if not msgs:
                if received:
                    break
                await self._waited(notes)
                continue
            kept = []
            past = False
            for msg in msgs:
                consumer_sequence, stream_sequence = delivery_sequences(msg)
                if consumer_sequence != self.delivered + 1:
                    self.lost = True
                    break
                self.delivered = consumer_sequence
                self._reached = stream_sequence
                if stream_sequence > self.end:
                    past = True
                    break
                kept.append(msg)
            if kept:
                received += len(kept)
                notes.last = self._reached
                noted = notes.noted
                _decode(self.source, kept, notes)
                self._taken += len(kept)
                self._noted += notes.noted - noted
                await asyncio.sleep(0)  # let the connection read what arrived meanwhile
            if past:  # nothing more up to the end (its last messages deleted, or not ours)
                notes.last = self.end
        return notes

    async def _waited(self, notes: Notes) -> None:
        """Nothing arrived for a while: the last deliveries lost (nothing more would come), the
        requests lost (asked again), or nothing more up to the end (the span is read)."""
        try:
            info = await self.client.jetstream().consumer_info(self.source.stream, self.consumer)
        except NotFoundError:  # the server let the consumer go
            self.lost = True
            return
        delivered = int(info.delivered.consumer_seq) if info.delivered else 0
        if delivered > self.delivered:
            self.lost = True
        elif not info.num_pending:
            notes.last = self.end
        else:
            self._asked = 0


def _decode(source: Source, msgs: Sequence[Any], notes: Notes) -> None:
    """Note the messages' events, runs of consecutive events of one type applied at once (those
    coverage does not read are skipped, as are those it cannot: the live consumer dead-letters
    these)."""
    runs: list[tuple[str, list[tuple[Envelope, Any]]]] = []
    for msg in msgs:
        try:
            envelope = Envelope.from_nats(msg.headers, msg.data)
        except MalformedEnvelope:
            notes.skipped += 1
            continue
        projected = source.projected.get(envelope.type)
        if projected is None:
            notes.skipped += 1
            continue
        try:
            event = envelope.decode(projected[0])
        except ValidationError:
            notes.skipped += 1
            continue
        if runs and runs[-1][0] == envelope.type:
            runs[-1][1].append((envelope, event))
        else:
            runs.append((envelope.type, [(envelope, event)]))
    recorder = cast(Projector, _Recorder(notes))
    for type_, items in runs:
        source.projected[type_][1](recorder, items)
        notes.applied += len(items)
