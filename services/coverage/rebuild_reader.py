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
import pickle
import resource
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field, fields
from multiprocessing.connection import Connection
from operator import attrgetter
from typing import Any, cast

import nats
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from libs.common.events import Envelope, MalformedEnvelope
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

FETCH_TIMEOUT = 2.0
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
    client = await nats.connect(nats_url, connect_timeout=5)
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
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        connection.send_bytes(pickle.dumps(Done(peak)))
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
        subscription = await js.pull_subscribe(
            source.subjects,
            durable=None,
            stream=source.stream,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=start,
                ack_policy=AckPolicy.NONE,
                max_ack_pending=-1,
                inactive_threshold=INACTIVE_THRESHOLD,
            ),
        )
        try:
            reader = _Reader(subscription, source, span.end)
            while start <= span.end and not reader.lost:
                notes = await reader.batch(batch_size, gaps)
                gaps = 0
                if notes.last:
                    start = notes.last + 1
                    yield notes
        finally:
            await subscription.unsubscribe()
        gaps += 1


class _Reader:
    """One consumer's deliveries, checked against its own sequence."""

    def __init__(self, subscription: Any, source: Source, end: int) -> None:
        self.subscription = subscription
        self.source = source
        self.end = end
        self.delivered = 0  # the consumer's sequence of the last message received
        self.lost = False  # a delivery was lost: the stream is read again after the last kept

    async def batch(self, size: int, gaps: int) -> Notes:
        """Up to `size` messages decoded: fetched until the batch is full, reaches the end or a
        gap (nats-py's fetch returns with what has arrived, often a few dozen, and a transaction
        per few dozen events costs more than their work). `last` 0: none came."""
        notes = Notes(self.source.stream, gaps=gaps)
        received = 0
        while received < size and notes.last < self.end and not self.lost:
            try:
                msgs = await self.subscription.fetch(size - received, timeout=FETCH_TIMEOUT)
            except (NatsTimeoutError, TimeoutError):
                if received:
                    break
                # the last deliveries before the end lost: nothing more will come
                self.lost = await self._delivered() > self.delivered
                continue
            kept = []
            past = False
            for msg in msgs:
                sequence = msg.metadata.sequence
                if sequence.consumer != self.delivered + 1:
                    self.lost = True
                    break
                self.delivered = sequence.consumer
                if sequence.stream > self.end:
                    past = True
                    break
                kept.append(msg)
            if kept:
                received += len(kept)
                notes.last = kept[-1].metadata.sequence.stream
                _decode(self.source, kept, notes)
            if past:  # nothing more up to the end (its last messages deleted, or not ours)
                notes.last = self.end
        return notes

    async def _delivered(self) -> int:
        """The consumer's sequence of the last message the server has delivered."""
        info = await self.subscription.consumer_info()
        return int(info.delivered.consumer_seq) if info.delivered else 0


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
