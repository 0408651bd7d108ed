"""One small statement read in one step, for the GETs that run one on every request: on SQLite
on a connection of the process's own, in one hand-off to a worker thread; on PostgreSQL straight
on the session's asyncpg connection, one round trip. A single statement reads one snapshot by
itself on both stores, so no transaction is opened around it.

Why not the session on SQLite: aiosqlite hands every step (cursor, execute, fetch, close, BEGIN,
ROLLBACK) to its connection's thread and back, 13 hand-overs for a GET's two statements (3 with
`OneHandOffConnection`), each a thread switch and a wake-up of the event loop, plus SQLAlchemy's
result processing; they were most of the API process's CPU per GET and, on a loaded machine, most
of its latency. Here the whole read is one hand-off. Not on the event loop's thread: a read is
tens of microseconds, but a slow one (a province's new-employment counts at 500,000 workers took
185 ms before they were kept as day rows) would leave the process answering nothing else
meanwhile (measured alike on the CPU: 2.2-2.4 ms per GET in a thread against 1.9-2.7 ms on the
loop's thread, 2.19-2.52 ms before the move).

Why not the session's execute on PostgreSQL: the read session's transaction (REPEATABLE READ,
for the GETs that read several statements) costs a BEGIN and a ROLLBACK round trip around the
statement, and SQLAlchemy's asyncpg adapter a Python layer over each; while the projection's
worker and the server keep both cores busy, each round trip waits for a core, and the GET's p99
was four of them. asyncpg's `fetch` outside a transaction is one round trip (its statement cache
keeps the statement prepared) in an implicit transaction of its own."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import date, datetime
from typing import Any
from weakref import WeakKeyDictionary

import asyncpg
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db import run_on_driver
from libs.common.sqlite_file import sqlite_file
from libs.common.tracing import sql_span

#: A statement compiled for a dialect: its SQL, its parameters' names in order and the values it
#: holds itself (its literals).
_Compiled = tuple[str, tuple[str, ...], dict[str, Any]]

#: By the statement's id and the dialect's name: the statement (kept, so that its id is never
#: another's) and what it compiled to.
_compiled: dict[tuple[int, str], tuple[Any, _Compiled]] = {}


def _sql(statement: Any, dialect: Dialect) -> _Compiled:
    """`statement` compiled for `dialect`, once (the statements read here are built once, at
    import, and live as long as the process)."""
    key = (id(statement), dialect.name)
    found = _compiled.get(key)
    if found is None or found[0] is not statement:
        compiled = statement.compile(dialect=dialect)
        found = (
            statement,
            (str(compiled), tuple(compiled.positiontup or ()), dict(compiled.params)),
        )
        _compiled[key] = found
    return found[1]


def _values(compiled: _Compiled, given: dict[str, Any], bound: Any = None) -> list[Any]:
    _, names, held = compiled
    values = [given[n] if n in given else held[n] for n in names]
    return values if bound is None else [bound(v) for v in values]


class _SqliteReader:
    """A connection to the store's file per thread that reads (the default executor's), reading
    only (`query_only`), each call one statement: a WAL snapshot that never waits for a writer."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._local = threading.local()

    def _connect(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA query_only=ON")
            self._local.connection = connection
        return connection

    def read(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        return self._connect().execute(sql, params).fetchall()


def _bound(value: Any) -> Any:
    """A parameter as SQLAlchemy's SQLite types store it: a day as ISO text (the reads here
    take no timestamps, which SQLAlchemy stores in a format of its own)."""
    if isinstance(value, datetime):
        raise TypeError("a timestamp parameter: read it through the session")
    return value.isoformat() if isinstance(value, date) else value


#: The reader of each SQLite store, by the engine of its read sessions (dropped with it).
_readers: WeakKeyDictionary[Engine, _SqliteReader] = WeakKeyDictionary()


def _reader(engine: Engine) -> _SqliteReader | None:
    found = _readers.get(engine)
    if found is None:
        path = sqlite_file(engine.url)
        if path is None:
            return None  # another connection would not see the same database
        found = _readers[engine] = _SqliteReader(path)
    return found


async def read_one(
    session: AsyncSession, statement: Any, params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """The rows of one Core `statement` with `params`, read from one snapshot of the store in
    one step. On SQLite the values come back as stored (dates and timestamps as ISO text); on
    PostgreSQL as asyncpg makes them from the columns' types (no SQLAlchemy type processing):
    compare them only with what the same store gave."""
    bind = session.bind
    engine = bind.sync_engine if bind is not None else None
    if engine is not None and engine.dialect.name == "sqlite":
        reader = _reader(engine)
        if reader is not None:
            compiled = _sql(statement, engine.dialect)
            values = _values(compiled, params, _bound)
            with sql_span(engine, compiled[0]):
                return await asyncio.to_thread(reader.read, compiled[0], values)
    if engine is not None and engine.dialect.driver == "asyncpg":
        compiled = _sql(statement, engine.dialect)
        with sql_span(engine, compiled[0]):
            return await _read_asyncpg(session, compiled, params)
    return [tuple(row) for row in await session.execute(statement, params)]


async def _read_asyncpg(
    session: AsyncSession, compiled: _Compiled, params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """The statement on the session's asyncpg connection, outside SQLAlchemy's adapter: its
    transaction (begun lazily, at the adapter's first statement) is never begun. A lost
    connection is invalidated and raised as SQLAlchemy's `OperationalError` (the API answers
    503), as is a statement cancelled by a timeout (the connection kept)."""
    connection = await session.connection()
    driver: asyncpg.Connection = (await connection.get_raw_connection()).driver_connection
    sql = compiled[0]
    values = _values(compiled, params)
    found = await run_on_driver(connection, driver, sql, lambda d: d.fetch(sql, *values))
    return [tuple(row) for row in found]
