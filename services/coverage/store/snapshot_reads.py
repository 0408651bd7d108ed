"""A few small statements read from one snapshot in one step, for the GETs that run them on every
request: on SQLite on a connection of the process's own, in one hand-off to a worker thread;
elsewhere on the unit of work's read session.

Why not the session on SQLite: aiosqlite hands every step (cursor, execute, fetch, close, BEGIN,
ROLLBACK) to its connection's thread and back, 13 hand-overs for a GET's two statements (3 with
`OneHandOffConnection`), each a thread switch and a wake-up of the event loop, plus SQLAlchemy's
result processing; they were most of the API process's CPU per GET and, on a loaded machine, most
of its latency. Here the whole read is one hand-off. Not on the event loop's thread: a read is
tens of microseconds, but a province's new-employment counts at 500,000 workers take 185 ms, and
the process would answer nothing else meanwhile (measured alike on the CPU: 2.2-2.4 ms per GET
in a thread against 1.9-2.7 ms on the loop's thread, 2.19-2.52 ms before the move)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession


class _SqliteReader:
    """A connection to the store's file per thread that reads (the default executor's), reading
    only (`query_only`), each call one deferred transaction: a WAL snapshot that never waits for
    a writer."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._local = threading.local()
        self._compiled: dict[int, tuple[str, tuple[str, ...], dict[str, Any]]] = {}

    def _connect(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA query_only=ON")
            self._local.connection = connection
        return connection

    def _sql(self, statement: Any, dialect: Any) -> tuple[str, tuple[str, ...], dict[str, Any]]:
        """The statement's SQL, its parameters' names in order and the values it holds itself
        (its literals), compiled once."""
        found = self._compiled.get(id(statement))
        if found is None:
            compiled = statement.compile(dialect=dialect)
            found = (str(compiled), tuple(compiled.positiontup), dict(compiled.params))
            self._compiled[id(statement)] = found
        return found

    def read(
        self, statements: Sequence[tuple[Any, dict[str, Any]]], dialect: Any
    ) -> list[list[tuple[Any, ...]]]:
        connection = self._connect()
        several = len(statements) > 1  # one statement reads one snapshot by itself
        if several:
            connection.execute("BEGIN")
        try:
            found = []
            for statement, given in statements:
                sql, names, held = self._sql(statement, dialect)
                params = [_bound(given[n] if n in given else held[n]) for n in names]
                found.append(connection.execute(sql, params).fetchall())
            return found
        finally:
            if several:
                connection.execute("ROLLBACK")


def _bound(value: Any) -> Any:
    """A parameter as SQLAlchemy's SQLite types store it: a day as ISO text (the reads here
    take no timestamps, which SQLAlchemy stores in a format of its own)."""
    if isinstance(value, datetime):
        raise TypeError("a timestamp parameter: read it through the session")
    return value.isoformat() if isinstance(value, date) else value


#: The reader of each SQLite store, by the engine of its read sessions (dropped with it).
_readers: WeakKeyDictionary[Engine, _SqliteReader] = WeakKeyDictionary()


def _reader(session: AsyncSession) -> _SqliteReader | None:
    bind = session.bind
    engine = bind.sync_engine if bind is not None else None
    if engine is None or engine.dialect.name != "sqlite":
        return None
    found = _readers.get(engine)
    if found is None:
        path = engine.url.database
        if not path or path == ":memory:" or path.startswith("file:"):
            return None  # another connection would not see the same database
        found = _readers[engine] = _SqliteReader(path)
    return found


async def read_snapshot(
    session: AsyncSession, statements: Sequence[tuple[Any, dict[str, Any]]]
) -> list[list[tuple[Any, ...]]]:
    """The rows of each statement (Core, with its parameters), all from one snapshot of the
    store. On SQLite the values come back as stored (dates and timestamps as ISO text); on
    PostgreSQL as the columns' types make them: compare them only with what the same store
    gave."""
    reader = _reader(session)
    if reader is not None:
        dialect = session.bind.dialect  # type: ignore[union-attr]
        return await asyncio.to_thread(reader.read, statements, dialect)
    return [
        [tuple(row) for row in await session.execute(statement, params)]
        for statement, params in statements
    ]
