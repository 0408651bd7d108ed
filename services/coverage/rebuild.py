"""`python -m services.coverage rebuild`: the projection rebuilt from the streams it reads.

Empties the projection (organisation facts, branches, assignments, mass organisations, the
routine's lapses, roll-ups) and replays PB_REGISTRY, then PB_TRAINING (the routine's lapses and
restorations, for effective coverage; skipped when training has not declared it), each from
sequence 1 up to its last message at the start, through the same code the live consumers use,
`--batch-size` events per transaction, printing progress; but in bulk: the replay writes the
organisations' facts only, and the
roll-ups are then added up once from the facts by SQL aggregates per region level, the counting
itself the live path's Python (`service/rebuild.recount_rollups`), in place of the old. Each live
consumer's position is moved to the end the rebuild replayed, so it goes on from there.
Targets, snapshots and history are kept. The progress is stored with each batch, so `--resume`
continues an interrupted rebuild where it stopped (every step of the projection is idempotent).
Stop the service (or at least its consumer) while it runs.

When it ends, targets are evaluated once against the rebuilt roll-ups (a real crossing is
recorded as an event in the outbox, sent by the service's relay when it runs again).

The streams are fetched and decoded by a process of its own (`rebuild_reader.py`, the
machine's second core), which hands this one what the events note on the projector a batch at a
time, while this one writes; what each transaction does is in `service/rebuild.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
from nats.js.errors import NotFoundError

from libs.common.db import Database
from libs.common.migrations import upgrade_to_head
from libs.common.service import Command
from services.coverage.rebuild_reader import SOURCES, Done, Failed, Notes, Span, run_reader
from services.coverage.service.rebuild import (
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


@dataclass
class RebuildReport:
    """What a rebuild did."""

    applied: int = 0
    skipped: int = 0  # other event types, or messages that could not be read
    last_sequence: int = 0
    seconds: float = 0.0
    replay_seconds: float = 0.0  # of which replaying the streams into the facts
    rollups_seconds: float = 0.0  # and adding the roll-ups up from them
    reader_peak_rss_mb: float = 0.0  # the stream reader process's peak resident memory
    reader_cpu_seconds: float = 0.0  # and its CPU time (its interpreter's start-up included)


Progress = Callable[[str], None]


async def rebuild(
    settings: CoverageSettings,
    *,
    resume: bool = False,
    batch_size: int | None = None,
    progress: Progress = print,
) -> RebuildReport:
    # the reader process starts first: its interpreter's start-up overlaps the store's
    reader = Reader.start(settings.nats_url, batch_size or settings.rebuild_batch_size)
    db = Database(settings.resolved_database_url(), source=f"/pb/{settings.service_name}")
    try:
        client = await nats.connect(settings.nats_url, connect_timeout=5)
        try:
            await upgrade_to_head(db, MIGRATIONS)
            return await _rebuild(db, client, reader, resume, progress)
        finally:
            await client.close()
    finally:
        await reader.stop()
        await db.dispose()


async def _rebuild(
    db: Database, client: Any, reader: Reader, resume: bool, progress: Progress
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
    # What is loaded by now lives through the rebuild: the collector need not walk it again and
    # again while the batches' objects come and go.
    gc.freeze()
    try:
        await _replay(db, reader, spans, report, progress)
    finally:
        gc.unfreeze()
    counted = time.monotonic()
    report.replay_seconds = counted - started
    progress("adding up the roll-ups from the facts")
    async with CoverageUnitOfWork(db) as uow:
        rows = await recount_rollups(uow)
        for source in SOURCES:
            if source.stream in spans:
                await move_consumer(uow, source.consumer, source.stream, spans[source.stream][1])
    report.rollups_seconds = time.monotonic() - counted
    progress(f"roll-ups added up from the facts: {rows} rows in {report.rollups_seconds:.1f} s")
    async with CoverageUnitOfWork(db) as uow:
        await evaluate_all_targets(uow)
    report.seconds = time.monotonic() - started
    progress(
        f"rebuilt: {report.applied} events applied in {report.seconds:.1f} s (replay "
        f"{report.replay_seconds:.1f} s, roll-ups {report.rollups_seconds:.1f} s; the stream "
        f"reader's CPU {report.reader_cpu_seconds:.1f} s, peak memory "
        f"{report.reader_peak_rss_mb:.0f} MB)"
    )
    return report


async def _last_sequence(js: Any, stream: str) -> int:
    """The stream's last sequence now (0 when its producer has not declared it yet)."""
    try:
        return int((await js.stream_info(stream)).state.last_seq)
    except NotFoundError:
        return 0


async def _replay(
    db: Database,
    reader: Reader,
    spans: dict[str, tuple[int, int]],
    report: RebuildReport,
    progress: Progress,
) -> None:
    """Replay each stream's span, in the order of `SOURCES`: the reader process fetches and
    decodes, this one writes a batch per transaction, its progress stored with it; the next
    batch is received (and unpickled, in a thread) while one is written."""
    wanted = [
        Span(index, *spans[source.stream])
        for index, source in enumerate(SOURCES)
        if source.stream in spans
    ]
    for span in wanted:
        if span.start > span.end:
            async with CoverageUnitOfWork(db) as uow:
                await finish_rebuild(uow, SOURCES[span.source].stream, span.end)
    reader.read([span for span in wanted if span.start <= span.end])
    ends = {SOURCES[span.source].stream: span.end for span in wanted}
    started: dict[str, tuple[float, int]] = {}
    reported = time.monotonic()
    upcoming: asyncio.Task[Notes | Done] | None = asyncio.create_task(reader.next())
    try:
        while upcoming is not None:
            notes = await upcoming
            upcoming = None
            if isinstance(notes, Done):
                report.reader_peak_rss_mb = notes.peak_rss_mb
                report.reader_cpu_seconds = notes.cpu_seconds
                break
            upcoming = asyncio.create_task(reader.next())
            stream, end = notes.stream, ends[notes.stream]
            began = started.setdefault(stream, (time.monotonic(), report.applied))
            async with CoverageUnitOfWork(db) as uow:
                await replay(uow, stream, [notes.replay], notes.last, finished=notes.last >= end)
            report.applied += notes.applied
            report.skipped += notes.skipped
            report.last_sequence = notes.last
            if notes.gaps:
                progress(f"  {stream}: a delivery was lost before {notes.last}, read again")
            if time.monotonic() - reported >= 1.0 or notes.last >= end:
                reported = time.monotonic()
                applied = report.applied - began[1]
                progress(
                    f"  {stream} {notes.last}/{end} ({100 * notes.last / end:.1f} %), "
                    f"{applied} applied, {applied / max(reported - began[0], 1e-9):,.0f}/s"
                )
    finally:
        if upcoming is not None:  # only when the replay failed
            await reader.stop()
            with contextlib.suppress(BaseException):
                await upcoming


class Reader:
    """The stream reader's process (`rebuild_reader.run_reader`) and its pipe."""

    def __init__(self, process: multiprocessing.process.BaseProcess, connection: Any) -> None:
        self.process = process
        self.connection = connection

    @classmethod
    def start(cls, nats_url: str, batch_size: int) -> Reader:
        context = multiprocessing.get_context("spawn")  # never fork a process with threads
        connection, theirs = context.Pipe()
        process = context.Process(
            target=run_reader,
            args=(nats_url, batch_size, theirs),
            name="coverage-rebuild-reader",
            daemon=True,
        )
        process.start()
        theirs.close()
        return cls(process, connection)

    def read(self, spans: list[Span]) -> None:
        self.connection.send_bytes(pickle.dumps(spans))

    async def next(self) -> Notes | Done:
        """The next batch, or `Done` when every span has been read."""
        return await asyncio.to_thread(self._receive)

    def _receive(self) -> Notes | Done:
        try:
            message = pickle.loads(self.connection.recv_bytes())
        except EOFError:
            raise RuntimeError("the rebuild's stream reader ended unexpectedly") from None
        if isinstance(message, Failed):
            raise RuntimeError(f"the rebuild's stream reader failed: {message.error}")
        return message  # type: ignore[no-any-return]

    async def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        await asyncio.to_thread(self.process.join, 10)
        self.connection.close()


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
