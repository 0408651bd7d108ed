"""An import job's stored rows, read and checked a chunk at a time beside the job's writing.

The rows' reading and checking (JSON lines, `read_row`, the file's duplicate check) and the
drafting of the new file each valid row registers if the ledger lacks it (`Draft`: its row, its
event data) are plain Python that needs nothing of the job's transaction. For a large job they
run in a process of its own (`ProcessRows`, the machine's second core), which sends each
chunk's `RowBatch` pickled over a pipe; a thread of the job's process takes the batches in as
they come, and the job only unpickles one when it starts its chunk. A small job (fewer rows
left than `PROCESS_MIN_ROWS`) reads in a thread (`ThreadRows`): starting a process would cost
more than it saves. Either way the next chunk is read while the current one is written, and the
rows come in the same batches.

Drafting in the reader process took a third of the job's own work off it: 100,000 rows through
the API went from 13,100 to 14,300 rows/s on SQLite and from 9,600 to 11,100-12,100 on
PostgreSQL, where the reader used to stay a thread (without drafts the process freed too little
to pay for itself there). The job still drafts a record that comes without a draft.

The reader process starts from the rows already imported (a resumed job): it reads them again
only to rebuild the duplicate check, as the thread does. It dies with the job's process (the
pipe breaks) and is stopped when the job stops. Its first batch is read in a thread while it
starts (`FirstInThread`): it starts past that batch, as a resumed job's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import pickle
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol, Self

from libs.common.collector import collector_paused
from libs.common.ids import new_id
from libs.common.json_text import json_loads
from services.registry.domain.imports import (
    SOURCES,
    FileDuplicates,
    HeaderMap,
    NewFile,
    PlaceNames,
    RegionLookup,
    RowBatch,
    SourceRecord,
    read_row,
)
from services.registry.file_forms import draft_of
from services.registry.ledger_codes import CodeLookup, LedgerCodes

#: From this many rows left to read up, a job's rows are read in a process of its own (its
#: start, about 0.15 s, costs about what reading 10,000 rows in a thread takes from the job).
PROCESS_MIN_ROWS = 10_000


def stored_rows(path: Path, source: str) -> tuple[HeaderMap, Iterator[tuple[int, list[str]]]]:
    """The header mapping and rows of a file `service.imports.write_rows` wrote."""
    lines = path.open(encoding="utf-8")
    first = json.loads(lines.readline())
    positions = {f: tuple(p) for f, p in first["fields"].items()}
    header = HeaderMap(SOURCES[source], positions, dropped=(), ignored=())

    def rows() -> Iterator[tuple[int, list[str]]]:
        with lines:
            for line in lines:
                number, cells = json_loads(line)
                yield number, cells

    return header, rows()


def _region_tree() -> RegionLookup:
    # Imported when a row first names a division in words: a file of codes never loads it
    # (the reader process starts without the store's modules).
    from services.registry.store.regions import region_tree

    return region_tree()


class FileReader:
    """A job's stored rows, validated, in batches (blocking: a thread's or a process's). Each
    valid record comes with the new file it registers drafted (`Draft`: the job uses it if the
    record turns out new), `eligible_at` the full members from which a file can stand alone;
    with `ledger`, only the records whose credit code the ledger lacks (`ledger_codes`)."""

    def __init__(
        self,
        path: Path,
        source: str,
        scope: str,
        eligible_at: int,
        ledger: CodeLookup | None = None,
    ) -> None:
        self.header, self.rows = stored_rows(path, source)
        self.scope = scope
        self.eligible_at = eligible_at
        self.places = PlaceNames(_region_tree, scope)
        self.duplicates = FileDuplicates()
        self.ledger = ledger
        #: Why the ledger's look-up was given up, until a batch has said so (`RowBatch`).
        self.ledger_failure: str | None = None

    def take(self, n: int, *, drafts: bool = True) -> RowBatch:
        batch = RowBatch()
        for number, cells in self.rows:
            batch.consumed += 1
            if cells:
                batch.rows += 1
                result = read_row(self.header, number, cells, self.scope, self.places)
                if isinstance(result, list):
                    batch.errors += result
                    batch.rejected_rows += 1
                else:
                    duplicate = self.duplicates.check(result)
                    if duplicate is not None:
                        batch.errors.append(duplicate)
                        batch.rejected_rows += 1
                    else:
                        batch.records.append(result)
            if batch.consumed >= n:
                break
        if drafts:
            self._draft(batch.records)
        batch.ledger_failure, self.ledger_failure = self.ledger_failure, None
        return batch

    def _draft(self, records: list[SourceRecord]) -> None:
        """Each record's new file drafted, but for those whose credit code the ledger has."""
        known = self._known([r.credit_code for r in records if r.credit_code])
        now = datetime.now(UTC)  # one object for the batch: its rows' timestamps bind once
        for record in records:
            if record.credit_code not in known:
                new = NewFile(record, new_id(), now).organization()
                record.draft = draft_of(new, self.eligible_at)

    def _known(self, codes: list[str]) -> set[str]:
        """Those of `codes` the ledger has, as far as the look-up can tell (none once it has
        failed: a hint, see `ledger_codes`)."""
        if self.ledger is None or not codes:
            return set()
        try:
            return self.ledger.known(codes)
        except Exception as exc:  # noqa: BLE001 - a hint: whatever fails, every record is drafted
            self.ledger_failure = type(exc).__name__  # not its text: it may name the server
            self.close()
            return set()

    def close(self) -> None:
        """Let the ledger's connection go (the rows are read to the end or not wanted)."""
        ledger, self.ledger = self.ledger, None
        if ledger is not None:
            with contextlib.suppress(Exception):
                ledger.close()

    def skip(self, n: int) -> None:
        """Pass over rows already imported, remembering them for the duplicate check."""
        while n > 0:
            n -= self.take(min(n, 10_000), drafts=False).consumed or n


@dataclass(frozen=True)
class JobRows:
    """What a job's reader reads: its stored rows (`path`, from `source`), the job's region
    (`scope`), the full members from which a file can stand alone (`eligible_at`), the rows a
    chunk takes, and where a reader process finds the ledger (`ledger_codes`)."""

    path: Path
    source: str
    scope: str
    eligible_at: int
    chunk_rows: int
    ledger: LedgerCodes | None = None

    def reader(self, lookup: CodeLookup | None = None) -> FileReader:
        return FileReader(self.path, self.source, self.scope, self.eligible_at, lookup)


class RowSource(Protocol):
    """Where a job's batches come from, the next one read ahead."""

    async def next_batch(self) -> RowBatch:
        """The next chunk's rows (`consumed` 0 past the end)."""
        ...

    async def close(self) -> None:
        """Stop reading; nothing reads the file once this returns."""
        ...


class ReaderFailed(Exception):
    """The reader process could not read the rows (its traceback is the message)."""


class ThreadRows:
    """Batches read in a thread, the next one while the current one is written."""

    def __init__(self, reader: FileReader, chunk_rows: int) -> None:
        self.reader = reader
        self.chunk_rows = chunk_rows
        self._upcoming: asyncio.Future[RowBatch] | None = None

    @classmethod
    async def open(cls, rows: JobRows, skip: int) -> Self:
        reader = await asyncio.to_thread(rows.reader)
        if skip:
            await asyncio.to_thread(reader.skip, skip)
        return cls(reader, rows.chunk_rows)

    def _take(self) -> RowBatch:
        with collector_paused():  # see `_serve`
            return self.reader.take(self.chunk_rows)

    def _read_ahead(self) -> asyncio.Future[RowBatch]:
        return asyncio.ensure_future(asyncio.to_thread(self._take))

    async def next_batch(self) -> RowBatch:
        upcoming = self._upcoming or self._read_ahead()
        batch = await upcoming
        self._upcoming = self._read_ahead() if batch.consumed else None
        return batch

    async def close(self) -> None:
        if self._upcoming is not None:  # the thread must not outlive the temporary file
            with contextlib.suppress(Exception):
                await self._upcoming
            self._upcoming = None


def _serve(rows: JobRows, skip: int, out: Connection) -> None:
    """The reader process: every batch from row `skip` on, pickled, then an empty one. It works
    ahead of the job as far as the job's process takes batches in (`RECEIVED_AHEAD`), then waits
    in its send. With `rows.ledger` it drafts only the records the ledger lacks."""
    reader: FileReader | None = None
    try:
        lookup, failure = _lookup(rows.ledger)
        reader = rows.reader(lookup)
        reader.skip(skip)
        reader.ledger_failure = failure  # said by the first batch sent
        while True:
            # A batch's objects live until pickled, and are let go before the collector
            # resumes (its first collection would scan them all: 8 ms a batch, a tenth of the
            # reader's work).
            with collector_paused():
                batch = reader.take(rows.chunk_rows)
                for record in batch.records:
                    record.name_key  # noqa: B018 (a cached property: computed here, not in the job)
                data = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
                last = batch.consumed == 0
                del batch
            out.send_bytes(data)
            if last:
                return
    except (BrokenPipeError, ConnectionResetError):  # the job stopped reading, or its process died
        return
    except BaseException:
        with contextlib.suppress(OSError):
            out.send_bytes(pickle.dumps(ReaderFailed(traceback.format_exc())))
        raise
    finally:
        if reader is not None:
            reader.close()
        out.close()


def _lookup(ledger: LedgerCodes | None) -> tuple[CodeLookup | None, str | None]:
    """The ledger's look-up, or None if there is none or it cannot connect (a hint only), with
    why not in the latter case (the error's kind)."""
    if ledger is None:
        return None, None
    try:
        return ledger.open(), None
    except Exception as exc:  # noqa: BLE001 - a hint: whatever fails, every record is drafted
        return None, type(exc).__name__


#: Batches the job's process takes in from the reader process before the job asks for them
#: (each a few MB, kept pickled until it does).
RECEIVED_AHEAD = 8


class ProcessRows:
    """Batches read in a process of its own (`_serve`), taken in by a thread of the job's
    process as they come, up to `RECEIVED_AHEAD` before the job asks for them.

    Taking them in ahead lets the reader keep working while the job is slower than it (a chunk
    of files the ledger has: their updates), so that it is ahead when the job is the faster
    (a chunk of new files, drafted by the reader): with one batch ahead each kind of chunk took
    as long as the slower of the two, and 100,000 rows went ~10% slower. A batch is unpickled
    only when the job takes it: tens of thousands of new objects waiting beside the chunk being
    written were scanned by the collection that follows each chunk (a tenth of the job's time
    on PostgreSQL)."""

    def __init__(self, process: multiprocessing.process.BaseProcess, rows: Connection) -> None:
        self.process = process
        self.rows = rows
        self._ended = False
        self._closing = False
        self._loop = asyncio.get_running_loop()
        self._received: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._room = threading.Semaphore(RECEIVED_AHEAD)
        self._receiver = threading.Thread(
            target=self._receive, name="registry-import-receiver", daemon=True
        )
        self._receiver.start()

    @classmethod
    def open(cls, rows: JobRows, skip: int) -> Self:
        context = multiprocessing.get_context("spawn")  # never fork a process with threads
        received, out = context.Pipe(duplex=False)
        process = context.Process(
            target=_serve, args=(rows, skip, out), name="registry-import-reader", daemon=True
        )
        process.start()
        out.close()  # the child's end: the parent sees EOF if the child dies
        return cls(process, received)

    def _receive(self) -> None:
        """The receiving thread: each batch as it comes, while there is room; None once the
        pipe has ended (the reader process is gone)."""
        while True:
            self._room.acquire()
            if self._closing:
                return
            try:
                data: bytes | None = self.rows.recv_bytes()
            except (EOFError, OSError):
                data = None
            self._loop.call_soon_threadsafe(self._received.put_nowait, data)
            if data is None:
                return

    async def next_batch(self) -> RowBatch:
        data = await self._received.get()
        self._room.release()
        if data is None:
            raise ReaderFailed(
                f"the import's reader process ended (exit code {self.process.exitcode})"
            )
        # Unpickled with the collector on, a batch's objects would set off collections over
        # the whole heap.
        with collector_paused():
            batch: Any = pickle.loads(data)
        if isinstance(batch, ReaderFailed):
            raise batch
        assert isinstance(batch, RowBatch)
        if batch.consumed == 0:
            self._ended = True
        return batch

    async def close(self) -> None:
        if not self._ended and self.process.is_alive():
            self.process.kill()  # mid-file: what it was reading is not wanted
        self._closing = True
        self._room.release()  # a receiver waiting for room sees it is closing
        await asyncio.to_thread(self._receiver.join)  # ends at the end of the pipe, at the latest
        self.rows.close()
        await asyncio.to_thread(self.process.join)
        self.process.close()


class FirstInThread:
    """A job's batches read in a process (`ProcessRows`) but for the first, read in a thread of
    the job's process while that process starts (a Python interpreter and the reading modules:
    about 0.2 s in which the job had nothing to write). The process starts past the first batch
    (its rows read again only for the duplicate check, as a resumed job's are)."""

    def __init__(self, first: asyncio.Future[RowBatch], rest: ProcessRows) -> None:
        self._first: asyncio.Future[RowBatch] | None = first
        self.rest = rest

    @classmethod
    def open(cls, rows: JobRows, skip: int) -> Self:
        rest = ProcessRows.open(rows, skip + rows.chunk_rows)

        def first() -> RowBatch:
            with collector_paused():
                reader = rows.reader()
                reader.skip(skip)
                return reader.take(rows.chunk_rows)

        return cls(asyncio.ensure_future(asyncio.to_thread(first)), rest)

    async def next_batch(self) -> RowBatch:
        first, self._first = self._first, None
        if first is not None:
            batch = await first
            if batch.consumed:
                return batch
        return await self.rest.next_batch()

    async def close(self) -> None:
        first, self._first = self._first, None
        if first is not None:  # the thread must not outlive the temporary file
            with contextlib.suppress(Exception):
                await first
        await self.rest.close()


async def open_rows(
    rows: JobRows,
    *,
    skip: int,
    left: int | None,
    process_min_rows: int | None = PROCESS_MIN_ROWS,
) -> RowSource:
    """The job's batches from row `skip` on: read in a process when `left` (the rows still to
    read, if known) reaches `process_min_rows` (None: never), else in a thread. A reader
    process given `rows.ledger` drafts only the records the ledger lacks; a thread drafts every
    record (its look-ups would be the job's process's work)."""
    if left is not None and process_min_rows is not None and left >= process_min_rows:
        return FirstInThread.open(rows, skip)
    return await ThreadRows.open(rows, skip)
