"""Database engine, sessions and the unit of work (SQLAlchemy 2 async; SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from operator import itemgetter
from types import TracebackType
from typing import Any, Self, TypeVar

import aiosqlite
import asyncpg
from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    ColumnElement,
    String,
    Table,
    any_,
    bindparam,
    event,
    false,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import RowMapping, make_url
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import await_

from libs.common.checkpoints import WalCheckpointer
from libs.common.events import Envelope, IntegrationEvent
from libs.common.ids import new_id
from libs.common.json_text import json_dumps, json_loads
from libs.common.tables import outbox
from libs.common.tracing import current_traceparent, sql_span


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, sane durability, foreign keys, and transactions SQLAlchemy controls itself.

    pysqlite's own implicit transactions break SAVEPOINT, so they are switched off and
    BEGIN is emitted here: IMMEDIATE for writers (no lock-upgrade deadlocks between the
    relay and a request), a plain deferred BEGIN for read-only sessions; either goes to
    SQLite with the transaction's first statement (`OneHandOffConnection`).
    """

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    writers = WriterQueue()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        driver: OneHandOffConnection = conn.connection.driver_connection
        if conn.get_execution_options().get("pb_readonly", False):
            driver.begin_with_next("BEGIN")
            return
        writers.enter(conn)
        driver.begin_with_next("BEGIN IMMEDIATE")

    @event.listens_for(engine.sync_engine, "commit")
    @event.listens_for(engine.sync_engine, "rollback")
    def on_end(conn: Any) -> None:
        writers.leave(conn)

    # A connection returned to the pool, invalidated or closed mid-transaction leaves its turn.
    @event.listens_for(engine.sync_engine, "checkin")
    @event.listens_for(engine.sync_engine, "close")
    def on_gone(dbapi_connection: Any, _record: Any) -> None:
        writers.leave_connection(dbapi_connection)

    @event.listens_for(engine.sync_engine, "invalidate")
    def on_invalidate(dbapi_connection: Any, _record: Any, _error: Any) -> None:
        writers.leave_connection(dbapi_connection)


class WriterQueue:
    """SQLite's one writer, queued in the process: a write transaction waits here, in arrival
    order, before its `BEGIN IMMEDIATE`, rather than in SQLite's busy handler, whose sleeps grow
    to 100 ms a try and let late-comers overtake (20 concurrent POSTs: p99 about 2 s, 0.2-0.5 s
    queued). Other processes on the file are still held off by SQLite's own lock.

    Held from the transaction's first statement to its commit or rollback (or the connection's
    return to the pool). A holder whose task ended without either is passed over; a writer that
    waits longer than SQLite's busy timeout fails as SQLite would ("database is locked")."""

    TIMEOUT = 30.0
    CHECK = 1.0  # how often a waiter looks whether the holder's task still runs

    def __init__(self) -> None:
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self._holders: dict[int, tuple[asyncio.Lock, asyncio.Task[Any] | None]] = {}

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            for closed in [other for other in self._locks if other.is_closed()]:
                del self._locks[closed]
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    def enter(self, conn: Any) -> None:
        """Wait for the turn of `conn`'s transaction (called in SQLAlchemy's greenlet)."""
        lock = self._lock()
        await_(self._acquire(lock))
        self._holders[id(conn.connection.dbapi_connection)] = (lock, asyncio.current_task())

    async def _acquire(self, lock: asyncio.Lock) -> None:
        deadline = asyncio.get_running_loop().time() + self.TIMEOUT
        while True:
            try:
                await asyncio.wait_for(lock.acquire(), self.CHECK)
                return
            except TimeoutError:
                self._pass_over_ended(lock)
                if asyncio.get_running_loop().time() > deadline:
                    raise sqlite3.OperationalError("database is locked") from None

    def _pass_over_ended(self, lock: asyncio.Lock) -> None:
        for key, (held, task) in list(self._holders.items()):
            if held is lock and task is not None and task.done():
                del self._holders[key]
                lock.release()

    def leave(self, conn: Any) -> None:
        """`conn`'s transaction ended (commit or rollback)."""
        if not conn.closed and not conn.invalidated:
            self.leave_connection(conn.connection.dbapi_connection)

    def leave_connection(self, dbapi_connection: Any) -> None:
        held = self._holders.pop(id(dbapi_connection), None)
        if held is not None:
            held[0].release()


class _OneHandOffCursor:
    """An aiosqlite cursor whose `execute` costs one hand-off to the connection's thread.

    aiosqlite's own costs four as SQLAlchemy drives it (create the cursor, execute, fetch all,
    close), each a wake-up of that thread and then of the event loop. A write transaction holds
    SQLite's one writer (`WriterQueue`) across all of them, and on a loaded machine each wake-up
    waits for a core: `POST /v1/organizations` made 14 inside its writer turn. Here the thread
    runs the transaction's deferred `BEGIN` (`OneHandOffConnection.begin_with_next`), creates
    the cursor, executes, reads the first `PREFETCH` rows and, when that was all, closes it, in
    one call; later fetches (a larger result, a server-side cursor) hand off as before."""

    PREFETCH = 500

    def __init__(self, connection: OneHandOffConnection) -> None:
        self._connection = connection
        self._cursor: sqlite3.Cursor | None = None  # open while rows are left to fetch
        self._rows: list[Any] = []
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def _run(
        self,
        begin: str | None,
        before: list[tuple[str, list[tuple[Any, ...]]]],
        commit: bool,
        method: str,
        sql: str,
        parameters: Any,
    ) -> None:
        """In the connection's thread: the pending BEGIN, the statements queued to go before
        this one (`OneHandOffConnection.before_next`), the statement, its first rows, and the
        COMMIT asked for after it (once every row is read)."""
        connection = self._connection._conn
        if begin is not None:
            connection.execute(begin)
        for before_sql, records in before:
            connection.executemany(before_sql, records)
        cursor = connection.cursor()
        try:
            getattr(cursor, method)(sql, parameters)
            rows = cursor.fetchmany(self.PREFETCH) if cursor.description else []
        except BaseException:
            cursor.close()
            raise
        self.description, self._rows = cursor.description, rows
        self.rowcount, self.lastrowid = cursor.rowcount, cursor.lastrowid
        if len(rows) < self.PREFETCH:
            cursor.close()
            if commit:
                connection.commit()
        else:
            self._cursor = cursor

    async def _run_here(self, method: str, sql: str, parameters: Any) -> Self:
        await self.close()
        connection = self._connection
        begin, connection.begin_pending = connection.begin_pending, None
        before, connection.queued = connection.queued, []
        commit, connection.commit_pending = connection.commit_pending, False
        await connection.in_thread(self._run, begin, before, commit, method, sql, parameters)
        return self

    async def execute(self, sql: str, parameters: Any = ()) -> Self:
        return await self._run_here("execute", sql, parameters)

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> Self:
        return await self._run_here("executemany", sql, parameters)

    async def _more(self, size: int | None) -> None:
        """Fetch from the open cursor (all that is left when `size` is None)."""
        cursor = self._cursor
        if cursor is None:
            return
        fetch = cursor.fetchall if size is None else partial(cursor.fetchmany, size)
        rows = await self._connection.in_thread(fetch)
        self._rows.extend(rows)
        if size is None or len(rows) < size:
            self._cursor = None
            await self._connection.in_thread(cursor.close)

    async def fetchall(self) -> list[Any]:
        await self._more(None)
        rows, self._rows = self._rows, []
        return rows

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        wanted = self.arraysize if size is None else size
        if len(self._rows) < wanted:
            await self._more(max(wanted, self.PREFETCH))
        rows, self._rows = self._rows[:wanted], self._rows[wanted:]
        return rows

    async def fetchone(self) -> Any:
        rows = await self.fetchmany(1)
        return rows[0] if rows else None

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while rows := await self.fetchmany(self.PREFETCH):
            for row in rows:
                yield row

    async def close(self) -> None:
        self._rows = []
        if self._cursor is not None:
            cursor, self._cursor = self._cursor, None
            await self._connection.in_thread(cursor.close)


class OneHandOffConnection(aiosqlite.Connection):
    """aiosqlite with one hand-off to its thread per statement (`_OneHandOffCursor`). A
    transaction's `BEGIN` waits to go with its first statement (`begin_with_next`), and a
    commit or rollback with no transaction open (nothing ran; the pool's reset of a connection
    it takes back) costs no hand-off."""

    begin_pending: str | None = None
    commit_pending = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queued: list[tuple[str, list[tuple[Any, ...]]]] = []

    def cursor(self) -> _OneHandOffCursor:  # type: ignore[override]
        return _OneHandOffCursor(self)

    async def in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` run in the connection's thread: one hand-off."""
        return await self._execute(fn, *args)  # type: ignore[no-untyped-call]

    def begin_with_next(self, begin: str) -> None:
        """Open the transaction with `begin` in the same hand-off as its first statement."""
        self.begin_pending = begin

    def before_next(self, sql: str, records: list[tuple[Any, ...]]) -> None:
        """Run `sql` over `records` (an executemany whose result nobody reads) in the next
        statement's hand-off, before it; its failure is that statement's."""
        self.queued.append((sql, records))

    def commit_with_next(self) -> None:
        """Commit in the same hand-off as the next statement, right after it (unless it leaves
        rows to fetch): its caller has nothing else to write."""
        self.commit_pending = True

    def _must_end(self) -> bool:
        """Whether a transaction is open in SQLite; a BEGIN that never went is forgotten.

        Read outside the connection's thread, as SQLAlchemy reads a cursor's rowcount: the
        thread is idle, for a statement whose caller was cancelled before it ran (its BEGIN
        still queued) leaves a connection SQLAlchemy invalidates and closes, never ends."""
        self.begin_pending, self.commit_pending, self.queued = None, False, []
        return self._connection is not None and self._connection.in_transaction

    async def commit(self) -> None:
        if self._must_end():
            await super().commit()

    async def rollback(self) -> None:
        if self._must_end():
            await super().rollback()


def _connect_sqlite(*args: Any, **kwargs: Any) -> OneHandOffConnection:
    """SQLAlchemy's aiosqlite connect (the URL's arguments, as it computed them), with
    `OneHandOffConnection`."""
    connection = OneHandOffConnection(partial(sqlite3.connect, *args, **kwargs), 64)
    connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own
    return connection


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    parsed = make_url(url)
    json_codec = {"json_serializer": json_dumps, "json_deserializer": json_loads}
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(
            url,
            echo=echo,
            connect_args={"timeout": 30, "async_creator_fn": _connect_sqlite},
            **json_codec,
        )
        _configure_sqlite(engine)
        return engine
    engine = create_async_engine(url, echo=echo, pool_size=10, max_overflow=10, **json_codec)
    _ping_when_idle(engine)
    return engine


#: A pooled connection that has been idle this long (seconds) is pinged before it is handed out.
PING_AFTER_IDLE_S = 1.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Check a pooled connection before handing it out, when it has sat idle in the pool for
    `PING_AFTER_IDLE_S` or more; a dead one is replaced (the pool retries the checkout).

    SQLAlchemy's `pool_pre_ping` pings at every checkout, and on asyncpg its ping is three
    round trips (BEGIN, a statement, ROLLBACK): on a GET of the coverage rates, three of its
    four while the worker and the server kept both cores busy (p99 11-17 against 8-12 ms
    without them, p50 5.5-7.0 against 4.6-6.4; the API's CPU 3.25 against 2.84 ms a GET). A
    connection handed back less than a second ago was alive then; one that died since (the
    server restarted) fails its statement, and SQLAlchemy, seeing the disconnection, marks
    every connection of the pool opened before it stale: the next checkouts reconnect. So a
    restart costs the requests in flight and at most one more per process (answered 503), and
    a connection closed while idle (a server's or a proxy's idle timeout) is never handed out."""
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["pb_idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("pb_idle_since", None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return
        try:
            dbapi_connection.ping()
        except Exception as error:
            raise DisconnectionError("a pooled connection failed its ping") from error


class Database:
    """One service's store: the engine, its sessions, and a signal the outbox relay waits on."""

    def __init__(self, url: str, *, source: str) -> None:
        self.url = url
        self.source = source
        self.engine = create_engine(url)
        self.checkpoints = WalCheckpointer.attach(self.engine)  # SQLite's, off the writers' path
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # A read session sees one snapshot throughout: SQLite's deferred transaction reads one
        # WAL snapshot; PostgreSQL's default (read committed) would take a new one per statement,
        # so a GET reading two tables could pair a row from before a commit with one from after.
        reading: dict[str, Any] = {"pb_readonly": True}
        if self.engine.dialect.name == "postgresql":
            reading.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        self.read_sessions = async_sessionmaker(
            self.engine.execution_options(**reading), expire_on_commit=False
        )
        # One statement sees one snapshot on its own: on PostgreSQL it runs outside a
        # transaction, one round trip where BEGIN and COMMIT made three.
        single: dict[str, Any] = {"pb_readonly": True}
        if self.engine.dialect.name == "postgresql":
            single.update(isolation_level="AUTOCOMMIT")
        self.statement_sessions = async_sessionmaker(
            self.engine.execution_options(**single), expire_on_commit=False
        )
        self.outbox_written = asyncio.Event()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def commit_with_next_statement(self, session: AsyncSession) -> None:
        """On SQLite, have the session's next statement commit the transaction in its own
        hand-off to the connection's thread, one hand-off less inside the writer's turn; unless
        the session has ORM changes of its own to flush first (they would run before it)."""
        if self.dialect != "sqlite" or session.new or session.dirty or session.deleted:
            return
        raw = await (await session.connection()).get_raw_connection()
        driver: OneHandOffConnection = raw.driver_connection  # type: ignore[assignment]
        driver.commit_with_next()

    def unit_of_work(self, *, readonly: bool = False) -> UnitOfWork:
        """A plain unit of work (no repositories): for the platform's own tables."""
        return UnitOfWork(self, readonly=readonly)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for queries that change nothing."""
        async with self.read_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read_statement(self) -> AsyncIterator[AsyncSession]:
        """A session for one query that changes nothing (on PostgreSQL, outside a transaction:
        a second statement would see another snapshot). For queries run many times a second,
        such as the outbox relay's poll."""
        async with self.statement_sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.checkpoints is not None:
            await asyncio.to_thread(self.checkpoints.stop)


R = TypeVar("R", bound="Repository")
T = TypeVar("T")


class Repository:
    """The SQL of one aggregate behind plain methods that take and return domain objects.

    Built by the unit of work on its session (`uow.organizations`); nothing else builds queries.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def row_by_id(
        self, table: Table, key: Any, *, for_update: bool = False
    ) -> RowMapping | None:
        """The row of `table` whose `id` is `key`, locked for the transaction with `for_update`
        (the read every repository's `get` starts from)."""
        statement = select(table).where(table.c.id == key)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).mappings().first()


class UnitOfWork:
    """One transaction: the state change and the events it causes commit together or not at all.

    Use cases call `record(event)`; the events are written to the outbox in the same transaction
    (at commit, or at the end of a `savepoint()`), never published directly. A service's own
    unit of work subclasses this and carries its repositories as properties built through
    `repository(cls)`. `readonly=True` opens a read session (no writer lock on SQLite), records
    nothing and commits nothing: GETs run on it.
    """

    def __init__(
        self,
        db: Database,
        *,
        readonly: bool = False,
        connection: AsyncConnection | None = None,
        one_statement: bool = False,
    ) -> None:
        self._db = db
        # `one_statement`: a read of a single query (`Database.read_statement`), no transaction
        # on PostgreSQL; a second query would see another snapshot
        self.one_statement = one_statement
        self.readonly = readonly or one_statement
        # a connection the caller keeps (an ordered consumer's lease), else one from the pool
        self._connection = connection
        self._pending: list[Envelope] = []
        self._inserts: list[tuple[Table, list[Mapping[str, Any]]]] = []
        self._written = 0
        self._session: AsyncSession | None = None
        self._repositories: dict[type[Repository], Repository] = {}

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is not open")
        return self._session

    @property
    def dialect(self) -> str:
        return self._db.dialect

    def repository(self, cls: type[R]) -> R:
        """The transaction's one instance of repository `cls`."""
        found = self._repositories.get(cls)
        if found is None:
            found = self._repositories[cls] = cls(self.session)
        return found  # type: ignore[return-value]

    async def __aenter__(self) -> Self:
        if self.one_statement:
            sessions = self._db.statement_sessions
        else:
            sessions = self._db.read_sessions if self.readonly else self._db.sessions
        self._session = sessions() if self._connection is None else sessions(bind=self._connection)
        await self._session.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            if exc_type is None and not self.readonly:
                if self._pending:  # the outbox INSERT is the last statement: COMMIT goes with it
                    await self._db.commit_with_next_statement(session)
                await self.flush_events()
                await session.commit()
                if self._written:
                    self._db.outbox_written.set()
            else:
                await session.rollback()
        finally:
            await session.close()
            self._session = None
            self._pending.clear()
            self._inserts.clear()
            self._repositories.clear()

    def _writable(self) -> None:
        if self.readonly:
            raise RuntimeError("a read-only unit of work records no events")

    def record(self, event: IntegrationEvent) -> Envelope:
        """Record an event caused by this transaction, with the current trace context."""
        self._writable()
        traceparent, tracestate = current_traceparent()
        envelope = Envelope.wrap(
            event, source=self._db.source, traceparent=traceparent, tracestate=tracestate
        )
        self._pending.append(envelope)
        return envelope

    def _stamp(self) -> tuple[str, str | None, str | None, datetime]:
        """What every event recorded at once shares: the source, the trace context and the
        clock, read once for all of them."""
        self._writable()
        traceparent, tracestate = current_traceparent()
        return self._db.source, traceparent, tracestate, datetime.now(UTC)

    def record_many(self, events: Iterable[IntegrationEvent]) -> None:
        """Record many events at once (imports): as `record` for each, with the trace context
        and the clock read once for all of them."""
        source, traceparent, tracestate, now = self._stamp()
        self._pending.extend(
            Envelope.wrap(
                event, source=source, traceparent=traceparent, tracestate=tracestate, time=now
            )
            for event in events
        )

    def record_serialized(
        self, event_type: type[IntegrationEvent], events: Iterable[tuple[str, bytes]]
    ) -> None:
        """Record many events of one type given as (subject, data) already serialised, as
        `record_many` would record `event_type` models of them, without building and
        validating a model per event (imports: half the cost of recording an event). Only for
        data checked where it was made; the caller keeps it byte-identical to the model's JSON."""
        source, traceparent, tracestate, now = self._stamp()
        type_name = event_type.type_name()
        self._pending.extend(
            Envelope(
                id=new_id(),
                source=source,
                type=type_name,
                subject=subject,
                time=now,
                data=data,
                traceparent=traceparent,
                tracestate=tracestate,
            )
            for subject, data in events
        )

    def insert_at_commit(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """INSERT `rows` (each naming the same columns) when the events are written: at commit,
        or at the end of a `savepoint()`; for rows nothing in the transaction reads back (the
        audit trail). On SQLite they go to the connection's thread in the one hand-off that
        writes the outbox and commits: a statement less inside the writer's turn."""
        self._writable()
        if rows:
            self._inserts.append((table, list(rows)))

    async def flush_events(self) -> None:
        """Write the rows of `insert_at_commit` and the recorded events to the outbox inside
        the current transaction: on SQLite the rows queued to go in the outbox INSERT's
        hand-off, on PostgreSQL (a few rows each) in one statement with it (`insert_together`)."""
        inserts, self._inserts = self._inserts, []
        rows = [
            {
                "event_id": e.id,
                "type": e.type,
                "subject": e.subject,
                "source": e.source,
                "occurred_at": e.time,
                "data": e.data,
                "traceparent": e.traceparent,
                "tracestate": e.tracestate,
                "created_at": e.time,
            }
            for e in self._pending
        ]
        if inserts and rows and self.dialect == "sqlite":
            connection = await self.session.connection()
            raw = await connection.get_raw_connection()
            driver: OneHandOffConnection = raw.driver_connection  # type: ignore[assignment]
            for table, queued in inserts:
                driver.before_next(*sqlite_insert(connection, table, queued))
            inserts = []
        await insert_together(self.session, [*inserts, (outbox, rows)])
        self._written += len(rows)
        self._pending.clear()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested transaction: on error its writes and the events it recorded are undone."""
        await self.flush_events()  # what came before belongs to the outer transaction
        try:
            async with self.session.begin_nested():
                yield
                await self.flush_events()
        except BaseException:
            self._pending.clear()
            self._inserts.clear()
            raise


def dialect_insert(session: AsyncSession, table: Table) -> pg.Insert | sqlite.Insert:
    """An INSERT for the session's dialect, with its ON CONFLICT clauses."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return pg.insert(table) if dialect == "postgresql" else sqlite.insert(table)


async def insert_new(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    returning: str,
    unique: Sequence[str] = (),
) -> set[Any]:
    """Insert `rows`, skipping those a unique index (`unique` columns, or the primary key when
    empty) already holds; returns the `returning` column of the rows really inserted.

    The index decides, so concurrent writers cannot both insert, and no `SELECT .. IN` plan can
    turn the check into a scan. Executemany of one cached statement, as in `upsert_many`."""
    if not rows:
        return set()
    statement = (
        dialect_insert(session, table)
        .on_conflict_do_nothing(index_elements=[table.c[name] for name in unique] or None)
        .returning(table.c[returning])
    )
    return set((await session.execute(statement, list(rows))).scalars())


async def upsert_many(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]], *, key: str
) -> None:
    """Insert or update `rows` by the unique column `key`; the last row per key wins.

    Executed as executemany of one cached statement, which SQLAlchemy batches into multi-row
    INSERTs: compiling a fresh many-row VALUES clause per batch cost ~40 ms on PostgreSQL."""
    latest = list({row[key]: row for row in rows}.values())
    if not latest:
        return
    statement = dialect_insert(session, table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c[key]],
        set_={c.name: statement.excluded[c.name] for c in table.columns if c.name != key},
    )
    await session.execute(statement, latest)


def one_of(session: AsyncSession, column: ColumnElement[Any], values: Iterable[Any]) -> Any:
    """`column IN (values)` with the values as ONE bound parameter: an array on PostgreSQL, a JSON
    array read by `json_each` on SQLite. An IN list of thousands of parameters is rendered afresh
    for every statement, which cost more than running it (25 ms for 2,000 keys).

    On PostgreSQL `column = ANY(array)`: an index lookup whatever the planner believes of the
    table (a semi-join on the array, planned over a table bulk-loaded since its last ANALYZE,
    scanned the table once per listed key: 4.6 s for the import's 1,000 name keys). Where the
    planner scans the table rather than probing an index, use `one_of_hashed`."""
    listed = list(values)
    if _dialect(session) == "postgresql":
        return column == any_(_array(listed))
    return column.in_(_json_values(listed))


def one_of_hashed(session: AsyncSession, column: ColumnElement[Any], values: Iterable[Any]) -> Any:
    """`one_of` for a table the planner scans rather than probes (a small one, or a filter no
    index serves): on PostgreSQL a semi-join on `unnest(array)`, which it hashes. asyncpg
    prepares every statement, and after five runs the server may keep a generic plan, where
    `= ANY($1)` filtering a scanned table searches the array linearly for each row (hashed only
    for a constant array): the coverage projection's links query of a 1,000-organisation batch
    took 85 ms instead of 2.5 ms, and the live projection ran at 4.6k events/s instead of 7.8k
    (tests/common/test_one_of.py keeps that plan free of ANY)."""
    listed = list(values)
    if _dialect(session) == "postgresql":
        return column.in_(select(func.unnest(_array(listed)).column_valued()))
    return column.in_(_json_values(listed))


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _array(listed: list[Any]) -> Any:
    element = BigInteger() if listed and isinstance(listed[0], int) else String()
    return bindparam(None, listed, type_=ARRAY(element))


def _json_values(listed: list[Any]) -> Any:
    rows = func.json_each(bindparam(None, json.dumps(listed))).table_valued("value")
    return select(rows.c.value)


#: From this many rows up `insert_many` uses COPY on PostgreSQL (below, COPY's extra round trip
#: for the table's column types costs more than it saves).
COPY_MIN_ROWS = 100


def driver_records(
    rows: Sequence[Mapping[str, Any]],
    names: Sequence[str],
    processors: Sequence[Callable[[Any], Any] | None],
) -> list[tuple[Any, ...]]:
    """The rows as the driver takes them, each value through its column's bind processor. The
    values are taken out of each row at once (`itemgetter`) and only the columns that have a
    processor are gone through value by value: a loop over every value of every row cost more
    than the processing. A value that is the very object of the row before (a batch's one `now`
    in every row) is processed once: timestamps were half of the processing of an import's rows.
    """
    take = itemgetter(*names)
    records = [list(take(row)) for row in rows] if len(names) > 1 else [[take(r)] for r in rows]
    return bind_processed(records, processors)


def bind_processed(
    records: list[list[Any]], processors: Sequence[Callable[[Any], Any] | None]
) -> list[tuple[Any, ...]]:
    """Records already in the driver's column order (`driver_records` without the look-up by
    name), each value through its column's bind processor; the records are changed in place."""
    for i, process in enumerate(processors):
        if process is None:
            continue
        seen: Any = None
        done: Any = None
        for record in records:
            value = record[i]
            if value is not None:
                if value is not seen:
                    seen, done = value, process(value)
                record[i] = done
    return list(map(tuple, records))


def _processors(
    connection: AsyncConnection, table: Table, names: Sequence[str]
) -> list[Callable[[Any], Any] | None]:
    """The bind processor of each named column of `table` (None where values go as they are)."""
    return [table.c[name].type._cached_bind_processor(connection.dialect) for name in names]


def _sqlite_insert_sql(connection: AsyncConnection, table: Table, names: Sequence[str]) -> str:
    quote = connection.dialect.identifier_preparer.quote
    columns = ", ".join(quote(n) for n in names)
    table_name = connection.dialect.identifier_preparer.format_table(table)
    marks = ", ".join("?" * len(names))
    return f"INSERT INTO {table_name} ({columns}) VALUES ({marks})"


def sqlite_insert(
    connection: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> tuple[str, list[tuple[Any, ...]]]:
    """SQLite's INSERT of `rows` (each naming the same columns) and their values as the driver
    takes them, for its `executemany`."""
    names = list(rows[0])
    records = driver_records(rows, names, _processors(connection, table, names))
    return _sqlite_insert_sql(connection, table, names), records


async def insert_many(
    session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """INSERT the rows (each naming the same columns) inside the session's transaction. From
    `COPY_MIN_ROWS` rows up: on PostgreSQL with COPY (asyncpg `copy_records_to_table`, several
    times faster than executemany), on SQLite with the driver's executemany (SQLAlchemy's
    per-row parameter building cost more than SQLite's insert); below, a plain executemany. The
    columns' bind processing (JSON, aware timestamps) is applied as SQLAlchemy would; columns
    left out get their server defaults, not Python-side ones. On PostgreSQL a constraint
    violation raises asyncpg's error, not `IntegrityError`: use it where none is expected (bulk
    writes of rows checked beforehand)."""
    if not rows:
        return
    if _dialect_for_bulk(session, len(rows)) is None:
        await session.execute(insert(table), list(rows))
        return
    connection = await session.connection()
    names = list(rows[0])
    records = driver_records(rows, names, _processors(connection, table, names))
    await _write_records(connection, table, names, records)


async def insert_values(
    session: AsyncSession,
    table: Table,
    names: Sequence[str],
    values: Sequence[Sequence[Any]],
) -> None:
    """`insert_many` of rows given as their values in the order of `names` (no mapping per
    row: an import's new files come as tuples)."""
    if not values:
        return
    if _dialect_for_bulk(session, len(values)) is None:
        await session.execute(insert(table), [dict(zip(names, v, strict=True)) for v in values])
        return
    connection = await session.connection()
    records = bind_processed(list(map(list, values)), _processors(connection, table, names))
    await _write_records(connection, table, names, records)


async def insert_together(
    session: AsyncSession, parts: Sequence[tuple[Table, Sequence[Mapping[str, Any]]]]
) -> None:
    """INSERT rows into several tables (each part's rows naming the same columns) inside the
    session's transaction. On PostgreSQL, while every part is below `COPY_MIN_ROWS` rows, in one
    statement straight on the asyncpg connection: the parts but the last as data-modifying CTEs
    of the last's INSERT, one round trip, where each part through SQLAlchemy was a round trip and
    about 0.2 ms of CPU (a request's audit entry and its event: `UnitOfWork.flush_events`). The
    values are bind-processed as `insert_many`'s; a table with a Python-side default for a
    column the rows leave out, and any other store, take `insert_many` per part."""
    parts = [(table, rows) for table, rows in parts if rows]
    if not parts:
        return
    connection = await session.connection()
    shape = tuple((table, tuple(rows[0]), len(rows)) for table, rows in parts)
    sql = None
    if (
        len(parts) > 1
        and connection.dialect.driver == "asyncpg"
        and all(count < COPY_MIN_ROWS for _, _, count in shape)
    ):
        sql = _together_sql(connection.dialect, shape)
    if sql is None:
        for table, rows in parts:
            await insert_many(session, table, rows)
        return
    values: list[Any] = []
    for (table, names, _), (_, rows) in zip(shape, parts, strict=True):
        for record in driver_records(rows, names, _processors(connection, table, names)):
            values += record
    driver = await _in_transaction(connection)
    with sql_span(connection.sync_engine, sql):
        await run_on_driver(connection, driver, sql, lambda d: d.execute(sql, *values))


#: `_together_sql` by the tables, their columns and row counts (a handful of shapes a service).
_together: dict[tuple[tuple[Table, tuple[str, ...], int], ...], str | None] = {}


def _together_sql(
    dialect: Any, shape: tuple[tuple[Table, tuple[str, ...], int], ...]
) -> str | None:
    """The one statement of `insert_together` for this shape, made once; None when a table
    has a Python-side default for a column the rows leave out (SQLAlchemy fills it in; a
    statement of our own would not)."""
    if shape in _together:
        return _together[shape]
    prepare = dialect.identifier_preparer
    number = 0
    inserts = []
    for table, names, count in shape:
        if any(c.default is not None and c.name not in names for c in table.columns):
            _together[shape] = None
            return None
        rows = []
        for _ in range(count):
            rows.append("(" + ", ".join(f"${number + i + 1}" for i in range(len(names))) + ")")
            number += len(names)
        columns = ", ".join(prepare.quote(n) for n in names)
        inserts.append(
            f"INSERT INTO {prepare.format_table(table)} ({columns}) VALUES {', '.join(rows)}"
        )
    *first, last = inserts
    ctes = ", ".join(f"w{i} AS ({sql})" for i, sql in enumerate(first))
    sql = _together[shape] = f"WITH {ctes} {last}"
    return sql


async def run_on_driver(
    connection: AsyncConnection,
    driver: Any,
    sql: str,
    call: Callable[[Any], Awaitable[T]],
) -> T:
    """`call` with the connection's asyncpg connection (`driver`), outside SQLAlchemy's
    adapter. A lost connection (closed before or during the statement, or shut down by the
    server) is invalidated and raised as SQLAlchemy's `OperationalError` (an API answers
    503), as is a statement cancelled by a timeout (the connection kept: still usable)."""
    try:
        return await call(driver)
    except (
        asyncpg.InterfaceError,
        asyncpg.PostgresConnectionError,
        asyncpg.OperatorInterventionError,  # shut down by the server, or a statement timeout
        OSError,
    ) as error:
        if not isinstance(error, asyncpg.QueryCanceledError):
            await connection.invalidate(error)
        raise OperationalError(sql, None, error) from error


def _dialect_for_bulk(session: AsyncSession, count: int) -> str | None:
    """The dialect whose own bulk path `count` rows take (`insert_many`), None for a plain
    executemany."""
    dialect = session.bind.dialect.name if session.bind is not None else None
    if dialect not in ("postgresql", "sqlite") or count < COPY_MIN_ROWS:
        return None
    return dialect


async def _write_records(
    connection: AsyncConnection, table: Table, names: Sequence[str], records: list[tuple[Any, ...]]
) -> None:
    """Bind-processed records into `table`: SQLite's executemany, PostgreSQL's COPY."""
    if connection.dialect.name == "sqlite":
        await connection.exec_driver_sql(_sqlite_insert_sql(connection, table, names), records)
        return
    await copy_records(connection, table, names, records)


async def _in_transaction(connection: AsyncConnection) -> Any:
    """The connection's asyncpg connection, inside the transaction SQLAlchemy has open on it.
    The adapter begins its transaction with its first statement: if there was none yet, one is
    run, so that what runs on the driver runs inside it and not in autocommit."""
    raw = (await connection.get_raw_connection()).driver_connection
    if not raw.is_in_transaction():  # type: ignore[union-attr]
        await connection.exec_driver_sql("SELECT 1")
    return raw


async def copy_records(
    connection: AsyncConnection,
    table: Table,
    names: Sequence[str],
    records: list[tuple[Any, ...]],
) -> None:
    """COPY `records` (each the values of `names`, bind-processed: `driver_records`,
    `bind_processed`) into `table` inside the connection's transaction (PostgreSQL, asyncpg
    `copy_records_to_table`)."""
    raw = await _in_transaction(connection)
    await raw.copy_records_to_table(
        table.name, records=records, columns=list(names), schema_name=table.schema
    )


async def execute_many(
    session: AsyncSession, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Run `statement` once per row (each row naming every bound parameter) in the session's
    transaction, the rows handed to the driver's executemany as tuples in the compiled
    statement's parameter order (`Compiled.positiontup`: both drivers take positional
    parameters), each value through its bind processor as SQLAlchemy applies it
    (`driver_records`). For hot bulk UPDATEs and upserts: SQLAlchemy builds each row's
    parameters value by value, which cost more than the database's own work (`insert_many`
    does the same for INSERTs)."""
    if not rows:
        return
    connection = await session.connection()
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    assert compiled.positiontup is not None, f"not positional: {dialect.paramstyle}"
    names = list(compiled.positiontup)
    processors = [
        compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    await connection.exec_driver_sql(compiled.string, driver_records(rows, names, processors))


async def update_many(
    session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]], *, key: str
) -> None:
    """Update many rows of `table`, each found by its `key` column, its value given under
    `"_" + key` (`"_id"`), and set to the row's other values (every row naming the same
    columns; each key at most once: joined twice, a row would take either).

    On PostgreSQL ONE statement takes them all, each column's values as one array of the
    column's type: `UPDATE ... SET c = given.c FROM unnest(:keys, :values ...) AS given WHERE
    key = given.c0 AND key = ANY(:keys)` (the `= ANY` has the rows found by the key's index:
    joined to the arrays alone, the planner hashed them against a scan of the whole table).
    2,000 organisations by id took 37-45 ms against 45-55 as an executemany: the server runs
    one statement, not 2,000. On SQLite, or with a JSON column, `execute_many` of an UPDATE by
    key."""
    if not rows:
        return
    names = [name for name in rows[0] if name != "_" + key]
    by = table.c[key]
    if _dialect(session) == "postgresql" and not any(
        isinstance(table.c[name].type, JSON) for name in names
    ):
        listed = bindparam(None, [row["_" + key] for row in rows], type_=ARRAY(by.type))
        arrays = [listed] + [
            bindparam(None, [row[name] for row in rows], type_=ARRAY(table.c[name].type))
            for name in names
        ]
        given = (
            func.unnest(*arrays)
            .table_valued(*(f"c{i}" for i in range(len(arrays))))
            .render_derived(name="given")
        )
        await session.execute(
            update(table)
            .where(by == given.c.c0, by == any_(listed))
            .values({name: given.c[f"c{i}"] for i, name in enumerate(names, start=1)})
        )
        return
    statement = (
        update(table)
        .where(by == bindparam("_" + key))
        .values({name: bindparam(name) for name in names})
    )
    await execute_many(session, statement, rows)


def containing(column: ColumnElement[str], text: str) -> ColumnElement[bool]:
    """`column LIKE '%text%'` with the text taken literally: its own `%` and `_` match only
    themselves (escaped), and an empty text matches nothing (`LIKE '%%'` would match every
    row). The one way a caller's string goes into LIKE."""
    if not text:
        return false()
    return column.contains(text, autoescape=True)


def starting_with(column: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    """`column LIKE 'prefix%'` with the prefix taken literally; an empty prefix matches
    nothing."""
    if not prefix:
        return false()
    return column.startswith(prefix, autoescape=True)
