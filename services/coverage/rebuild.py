"""`python -m services.coverage rebuild`: the projection rebuilt from the streams it reads.

Empties the projection (organisation facts, branches, assignments, mass organisations, the
routine's lapses, roll-ups) and replays PB_REGISTRY, then PB_TRAINING (the routine's lapses and
restorations, for effective coverage; skipped when training has not declared it), each from
sequence 1 up to its last message at the start, through the same code the live consumers use,
`--batch-size` events per transaction, printing progress; but in bulk: the replay writes the
organisations' facts only (the next batch fetched and decoded while one is written), and the
roll-ups are then added up once from the facts by SQL aggregates per region level, the counting
itself the live path's Python (`service/rebuild.recount_rollups`), in place of the old. Each live
consumer's position is moved to the end the rebuild replayed, so it goes on from there.
Targets, snapshots and history are kept. The progress is stored with each batch, so `--resume`
continues an interrupted rebuild where it stopped (every step of the projection is idempotent).
Stop the service (or at least its consumer) while it runs.

When it ends, targets are evaluated once against the rebuilt roll-ups (a real crossing is
recorded as an event in the outbox, sent by the service's relay when it runs again).

This module reads the stream; what each transaction does is in `service/rebuild.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from libs.common.db import Database
from libs.common.events import Envelope, MalformedEnvelope
from libs.common.migrations import upgrade_to_head
from libs.common.service import Command
from services.coverage.handlers import (
    PROJECTED,
    PROJECTED_TRAINING,
    Apply,
    registry_events,
    training_events,
)
from services.coverage.service.rebuild import (
    Noting,
    finish_rebuild,
    move_consumer,
    recount_rollups,
    replay,
    start_rebuild,
    unfinished,
)
from services.coverage.service.targets import evaluate_all_targets
from services.coverage.settings import CoverageSettings
from services.coverage.store.uow import CoverageUnitOfWork

MIGRATIONS = Path(__file__).parent / "store" / "migrations"
FETCH_TIMEOUT = 2.0


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


@dataclass
class RebuildReport:
    """What a rebuild did."""

    applied: int = 0
    skipped: int = 0  # other event types, or messages that could not be read
    last_sequence: int = 0
    seconds: float = 0.0


Progress = Callable[[str], None]


async def rebuild(
    settings: CoverageSettings,
    *,
    resume: bool = False,
    batch_size: int | None = None,
    progress: Progress = print,
) -> RebuildReport:
    db = Database(settings.resolved_database_url(), source=f"/pb/{settings.service_name}")
    client = await nats.connect(settings.nats_url, connect_timeout=5)
    try:
        await upgrade_to_head(db, MIGRATIONS)
        return await _rebuild(
            db, client, resume, batch_size or settings.rebuild_batch_size, progress
        )
    finally:
        await client.close()
        await db.dispose()


async def _rebuild(
    db: Database, client: Any, resume: bool, batch_size: int, progress: Progress
) -> RebuildReport:
    js = client.jetstream()
    report = RebuildReport()
    started = time.monotonic()
    spans: dict[str, tuple[int, int]] = {}
    async with CoverageUnitOfWork(db) as uow:
        for source in SOURCES:
            resumed = await unfinished(uow, source.stream) if resume else None
            if resumed is not None:
                spans[source.stream] = resumed
                progress(f"resuming {source.stream} at sequence {resumed[0]} of {resumed[1]}")
        if not resume or not spans:
            ends = {source.stream: await _last_sequence(js, source.stream) for source in SOURCES}
            await start_rebuild(uow, ends)
            spans = {stream: (1, end) for stream, end in ends.items()}
            for stream, end in ends.items():
                progress(f"rebuilding from {stream}: sequences 1..{end}")
    for source in SOURCES:
        if source.stream in spans:
            start, end = spans[source.stream]
            await _replay_stream(db, js, source, start, end, batch_size, report, progress)
    counted = time.monotonic()
    progress("adding up the roll-ups from the facts")
    async with CoverageUnitOfWork(db) as uow:
        rows = await recount_rollups(uow)
        for source in SOURCES:
            if source.stream in spans:
                await move_consumer(uow, source.consumer, source.stream, spans[source.stream][1])
    progress(f"roll-ups added up from the facts: {rows} rows in {time.monotonic() - counted:.1f} s")
    async with CoverageUnitOfWork(db) as uow:
        await evaluate_all_targets(uow)
    report.seconds = time.monotonic() - started
    progress(f"rebuilt: {report.applied} events applied in {report.seconds:.1f} s")
    return report


async def _last_sequence(js: Any, stream: str) -> int:
    """The stream's last sequence now (0 when its producer has not declared it yet)."""
    try:
        return int((await js.stream_info(stream)).state.last_seq)
    except NotFoundError:
        return 0


async def _replay_stream(
    db: Database,
    js: Any,
    source: Source,
    start: int,
    end: int,
    batch_size: int,
    report: RebuildReport,
    progress: Progress,
) -> None:
    """Replay `source` from `start` to `end`, a batch per transaction, progress stored with each."""
    started = reported = time.monotonic()
    applied_before = report.applied
    stream = source.stream
    if start > end:
        async with CoverageUnitOfWork(db) as uow:
            await finish_rebuild(uow, stream, end)
        return
    subscription = await js.pull_subscribe(
        source.subjects,
        durable=None,
        stream=stream,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start,
            ack_policy=AckPolicy.NONE,
            max_ack_pending=-1,
        ),
    )
    # The next batch is fetched and decoded while the current one is written: the store works
    # in its own thread (aiosqlite; asyncpg's I/O), so receiving and parsing overlap the writes.
    upcoming: asyncio.Task[Batch] | None = asyncio.create_task(
        _next_batch(subscription, source, batch_size, end)
    )
    try:
        last = start - 1
        while upcoming is not None and last < end:
            batch = await upcoming
            upcoming = None
            if batch.last == 0:
                break
            last = batch.last
            if last < end:
                upcoming = asyncio.create_task(_next_batch(subscription, source, batch_size, end))
            await _apply(db, source, batch, last >= end, report)
            report.last_sequence = last
            if time.monotonic() - reported >= 1.0 or last >= end:
                reported = time.monotonic()
                applied = report.applied - applied_before
                progress(
                    f"  {stream} {last}/{end} ({100 * last / end:.1f} %), {applied} applied, "
                    f"{applied / max(reported - started, 1e-9):,.0f}/s"
                )
    finally:
        if upcoming is not None:  # only when the replay failed
            upcoming.cancel()
            with contextlib.suppress(BaseException):
                await upcoming
        await subscription.unsubscribe()


@dataclass
class Batch:
    """Messages of one transaction, decoded: runs of consecutive events of one type."""

    last: int = 0  # the stream sequence of its last message (0: none came)
    runs: list[tuple[str, list[tuple[Envelope, Any]]]] = field(default_factory=list)
    skipped: int = 0  # other event types, or messages that could not be read


async def _next_batch(subscription: Any, source: Source, size: int, end: int) -> Batch:
    """Up to `size` messages, none past sequence `end`, decoded: fetched until the batch is full
    or reaches the end (nats-py's fetch returns with what has arrived, often a few dozen, and a
    transaction per few dozen events costs more than their work)."""
    batch = Batch()
    received = 0
    while received < size:
        try:
            msgs = await subscription.fetch(size - received, timeout=FETCH_TIMEOUT)
        except (NatsTimeoutError, TimeoutError):
            if received:
                return batch
            continue
        msgs = [m for m in msgs if m.metadata.sequence.stream <= end]
        if msgs:
            received += len(msgs)
            batch.last = msgs[-1].metadata.sequence.stream
            _decode(source, msgs, batch)
        if not msgs or batch.last >= end:
            return batch
    return batch


def _decode(source: Source, msgs: list[Msg], batch: Batch) -> None:
    """Add the messages' events to the batch's runs (those coverage does not read are skipped,
    as are those it cannot: the live consumer dead-letters these)."""
    runs = batch.runs
    for msg in msgs:
        try:
            envelope = Envelope.from_nats(msg.headers, msg.data)
        except MalformedEnvelope:
            batch.skipped += 1
            continue
        projected = source.projected.get(envelope.type)
        if projected is None:
            batch.skipped += 1
            continue
        try:
            event = envelope.decode(projected[0])
        except ValidationError:
            batch.skipped += 1
            continue
        if runs and runs[-1][0] == envelope.type:
            runs[-1][1].append((envelope, event))
        else:
            runs.append((envelope.type, [(envelope, event)]))


async def _apply(
    db: Database, source: Source, batch: Batch, finished: bool, report: RebuildReport
) -> None:
    """One transaction: the batch's runs of one event type, applied at once, then the progress."""
    async with CoverageUnitOfWork(db) as uow:
        notes = [_noting(source.projected[type_][1], items) for type_, items in batch.runs]
        await replay(uow, source.stream, notes, batch.last, finished=finished)
    report.applied += sum(len(items) for _, items in batch.runs)
    report.skipped += batch.skipped


def _noting(apply: Apply, items: list[tuple[Envelope, Any]]) -> Noting:
    return lambda projector: apply(projector, items)


def rebuild_command(settings: CoverageSettings) -> Command:
    """`rebuild [--resume] [--batch-size N]` for the service's command line."""

    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.description = __doc__
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        parser.add_argument("--resume", action="store_true", help="continue an interrupted rebuild")
        parser.add_argument("--batch-size", type=int, default=None, help="events per transaction")

    async def run(args: argparse.Namespace) -> None:
        await rebuild(settings, resume=args.resume, batch_size=args.batch_size)

    return Command(
        "rebuild",
        "rebuild the projection from the registry's and training's streams (stop the service "
        "first)",
        arguments,
        run,
    )
