"""An import job's stored rows, read and checked a chunk at a time beside the job's writing.

The rows' reading and checking (JSON lines, `read_row`, the file's duplicate check) is plain
Python that needs nothing of the job's transaction. For a large job it runs in a process of its
own (`ProcessRows`, the machine's second core: in a thread it held the interpreter's lock a fifth
of the job's time), which sends each chunk's `RowBatch` pickled over a pipe; the job's process
only unpickles it. A small job (fewer rows left than `PROCESS_MIN_ROWS`), and any job on
PostgreSQL (`process_min_rows_for`), reads in a thread (`ThreadRows`): starting a process would
cost more than it saves, and on PostgreSQL the database server wants the other core. Either
way the next chunk is read while the current one is written, and the rows come in the same
batches.

The reader process starts from the rows already imported (a resumed job): it reads them again
only to rebuild the duplicate check, as the thread does. It dies with the job's process (the
pipe breaks) and is stopped when the job stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import pickle
import traceback
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol, Self

from libs.common.collector import collector_paused
from libs.common.json_text import json_loads
from services.registry.domain.imports import (
    SOURCES,
    FileDuplicates,
    HeaderMap,
    PlaceNames,
    RegionLookup,
    RowBatch,
    read_row,
)

#: From this many rows left to read up, a job's rows are read in a process of its own (its
#: start, about 0.15 s, costs about what reading 10,000 rows in a thread takes from the job).
PROCESS_MIN_ROWS = 10_000


def process_min_rows_for(dialect: str) -> int | None:
    """From how many rows left a job on this store reads in a process (None: never). On
    PostgreSQL never: its server shares the machine's two cores with the service, and the
    reader process cost more wall time than it freed (100,000- and 50,000-row imports through
    the API, process and thread back to back: the thread as fast or faster in every pair)."""
    return None if dialect == "postgresql" else PROCESS_MIN_ROWS


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
    """A job's stored rows, validated, in batches (blocking: a thread's or a process's)."""

    def __init__(self, path: Path, source: str, scope: str) -> None:
        self.header, self.rows = stored_rows(path, source)
        self.scope = scope
        self.places = PlaceNames(_region_tree, scope)
        self.duplicates = FileDuplicates()

    def take(self, n: int) -> RowBatch:
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
        return batch

    def skip(self, n: int) -> None:
        """Pass over rows already imported, remembering them for the duplicate check."""
        while n > 0:
            n -= self.take(min(n, 10_000)).consumed or n


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
    async def open(cls, path: Path, source: str, scope: str, skip: int, chunk_rows: int) -> Self:
        reader = await asyncio.to_thread(FileReader, path, source, scope)
        if skip:
            await asyncio.to_thread(reader.skip, skip)
        return cls(reader, chunk_rows)

    def _read_ahead(self) -> asyncio.Future[RowBatch]:
        return asyncio.ensure_future(asyncio.to_thread(self.reader.take, self.chunk_rows))

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


def _serve(path: str, source: str, scope: str, skip: int, chunk_rows: int, out: Connection) -> None:
    """The reader process: every batch from row `skip` on, pickled, then an empty one. The pipe
    holds about one batch: the process reads the next while the job writes the current."""
    try:
        reader = FileReader(Path(path), source, scope)
        reader.skip(skip)
        while True:
            batch = reader.take(chunk_rows)
            for record in batch.records:
                record.name_key  # noqa: B018 (a cached property: computed here, not in the job)
            out.send_bytes(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
            if batch.consumed == 0:
                return
    except (BrokenPipeError, ConnectionResetError):  # the job stopped reading, or its process died
        return
    except BaseException:
        with contextlib.suppress(OSError):
            out.send_bytes(pickle.dumps(ReaderFailed(traceback.format_exc())))
        raise
    finally:
        out.close()


class ProcessRows:
    """Batches read in a process of its own (`_serve`), received in a thread."""

    def __init__(self, process: multiprocessing.process.BaseProcess, rows: Connection) -> None:
        self.process = process
        self.rows = rows
        self._ended = False

    @classmethod
    def open(cls, path: Path, source: str, scope: str, skip: int, chunk_rows: int) -> Self:
        context = multiprocessing.get_context("spawn")  # never fork a process with threads
        rows, out = context.Pipe(duplex=False)
        process = context.Process(
            target=_serve,
            args=(str(path), source, scope, skip, chunk_rows, out),
            name="registry-import-reader",
            daemon=True,
        )
        process.start()
        out.close()  # the child's end: the parent sees EOF if the child dies
        return cls(process, rows)

    def _receive(self) -> RowBatch:
        try:
            data = self.rows.recv_bytes()
        except EOFError:
            raise ReaderFailed(
                f"the import's reader process ended (exit code {self.process.exitcode})"
            ) from None
        # A batch is thousands of new objects that live through the chunk: unpickled with the
        # collector on, they set off collections over the whole heap (4 times the unpickling).
        with collector_paused():
            received: Any = pickle.loads(data)
        if isinstance(received, ReaderFailed):
            raise received
        assert isinstance(received, RowBatch)
        return received

    async def next_batch(self) -> RowBatch:
        batch = await asyncio.to_thread(self._receive)
        if batch.consumed == 0:
            self._ended = True
        return batch

    async def close(self) -> None:
        self.rows.close()
        if not self._ended and self.process.is_alive():
            self.process.kill()  # mid-file: what it was reading is not wanted
        await asyncio.to_thread(self.process.join)
        self.process.close()


async def open_rows(
    path: Path,
    source: str,
    scope: str,
    *,
    skip: int,
    left: int | None,
    chunk_rows: int,
    process_min_rows: int | None = PROCESS_MIN_ROWS,
) -> RowSource:
    """The job's batches from row `skip` on: read in a process when `left` (the rows still to
    read, if known) reaches `process_min_rows` (None: never), else in a thread."""
    if left is not None and process_min_rows is not None and left >= process_min_rows:
        return ProcessRows.open(path, source, scope, skip, chunk_rows)
    return await ThreadRows.open(path, source, scope, skip, chunk_rows)
