"""`insert_many`: from COPY_MIN_ROWS rows up COPY on PostgreSQL and the driver's executemany on
SQLite, SQLAlchemy's executemany below; the same rows come back either way, inside the caller's
transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Integer, LargeBinary, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError

from libs.common.db import COPY_MIN_ROWS, Database, insert_many, insert_together
from libs.common.tables import UTCDateTime
from tests.harness import POSTGRESQL_ONLY

metadata = MetaData()
items = Table(
    "insert_many_items",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("code", String(20), nullable=False, unique=True),
    Column("values", JSON(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("note", String(20), server_default="none"),
)

AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def rows(n: int, start: int = 0) -> list[dict[str, object]]:
    return [
        {"code": f"c{i}", "values": {"n": i, "名": "测试"}, "at": AT + timedelta(seconds=i)}
        for i in range(start, start + n)
    ]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A fresh database on the test's store, with this module's tables."""
    db = Database(database_url, source="/pb/test")
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        yield db
    finally:
        await db.dispose()


@pytest.mark.parametrize("count", [3, COPY_MIN_ROWS + 5])
async def test_rows_come_back_as_written(db: Database, count: int) -> None:
    async with db.sessions() as session, session.begin():
        await insert_many(session, items, rows(count))
    async with db.read() as session:
        got = (await session.execute(select(items).order_by(items.c.id))).mappings().all()
    assert [(r["code"], r["values"], r["at"], r["note"]) for r in got] == [
        (r["code"], r["values"], r["at"], "none") for r in rows(count)
    ]


async def test_a_rolled_back_transaction_keeps_none_of_them(db: Database) -> None:
    async with db.sessions() as session:
        await session.begin()
        await insert_many(session, items, rows(COPY_MIN_ROWS + 5))
        await session.rollback()  # the transaction fails after the rows went in
    async with db.read() as session:
        assert (await session.execute(select(items))).first() is None


async def test_a_duplicate_on_sqlite_is_an_integrity_error(sqlite_url: str) -> None:
    """The driver's executemany still raises SQLAlchemy's error (the session's own wrapping)."""
    db = Database(sqlite_url, source="/pb/test")
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with db.sessions() as session, session.begin():
            with pytest.raises(IntegrityError):
                await insert_many(session, items, rows(COPY_MIN_ROWS) + rows(1))
    finally:
        await db.dispose()


#: JSON values as the columns' codec must give them back (pydantic-core's, `json` where it
#: refuses: an escaped lone surrogate), and times as stored with and without microseconds.
ODD_VALUES: list[object] = [
    {},
    [],
    {"名": ["测试", 1.5, None, True], "n": 2**70},
    {"s": "\ud800 lone surrogate"},
    "text",
]


async def test_json_values_and_times_come_back_as_written(db: Database) -> None:
    written = [
        {"code": f"odd{i}", "values": v, "at": AT + timedelta(microseconds=i % 2 * 7)}
        for i, v in enumerate(ODD_VALUES)
    ]
    async with db.sessions() as session, session.begin():
        await session.execute(insert(items), written[:2])  # SQLAlchemy's own executemany
        await insert_many(session, items, written[2:])
    async with db.read() as session:
        got = (await session.execute(select(items).order_by(items.c.id))).mappings().all()
    assert [(r["values"], r["at"]) for r in got] == [(r["values"], r["at"]) for r in written]
    assert all(r["at"].tzinfo is UTC for r in got)


notes = Table(
    "insert_together_notes",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("body", LargeBinary(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)


stamped = Table(
    "insert_together_stamped",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("code", String(20), nullable=False),
    Column("stamp", String(20), nullable=False, default="python-side"),
)


def some_notes(n: int) -> list[dict[str, object]]:
    return [{"body": f"笔记{i}".encode(), "at": AT + timedelta(minutes=i)} for i in range(n)]


@pytest.mark.parametrize("first", [True, False], ids=["first-statement", "after-another"])
async def test_rows_of_several_tables_go_in_together_inside_the_transaction(
    db: Database, first: bool
) -> None:
    """`insert_together` (an audit entry and its event at commit): the rows come back as
    written, and they are part of the caller's transaction, whether or not a statement ran in
    it before (the adapter begins its transaction only with its first statement)."""
    for commit in (False, True):
        async with db.sessions() as session:
            await session.begin()
            if not first:
                await session.execute(select(items.c.id).limit(1))
            await insert_together(session, [(items, rows(2)), (notes, some_notes(3))])
            await (session.commit() if commit else session.rollback())
        async with db.read() as session:
            got_items = (await session.execute(select(items))).mappings().all()
            got_notes = (await session.execute(select(notes))).mappings().all()
        if not commit:
            assert (got_items, got_notes) == ([], [])
    assert sorted((r["code"], r["values"], r["at"]) for r in got_items) == [
        (r["code"], r["values"], r["at"]) for r in rows(2)
    ]
    assert sorted((r["body"], r["at"]) for r in got_notes) == [
        (r["body"], r["at"]) for r in some_notes(3)
    ]


@POSTGRESQL_ONLY
async def test_rows_of_several_tables_are_one_statement_on_postgresql(db: Database) -> None:
    async with db.sessions() as session, session.begin():
        await session.execute(select(items.c.id).limit(1))
        connection = await session.connection()
        driver: Any = (await connection.get_raw_connection()).driver_connection
        sent: list[str] = []
        driver.add_query_logger(lambda record: sent.append(record.query))
        await insert_together(session, [(items, rows(2)), (notes, some_notes(1))])
        await asyncio.sleep(0)  # asyncpg calls its loggers soon after, not at once
        assert len(sent) == 1  # both tables' rows in one round trip
        assert sent[0].startswith("WITH ")


async def test_a_python_side_default_left_out_is_still_filled_in(db: Database) -> None:
    """A column whose default SQLAlchemy fills in (not the server) gets it even beside another
    table's rows: such a part goes through SQLAlchemy, not the one statement of our own."""
    async with db.sessions() as session, session.begin():
        await insert_together(session, [(stamped, [{"code": "s1"}]), (notes, some_notes(1))])
    async with db.read() as session:
        got = (await session.execute(select(stamped.c.code, stamped.c.stamp))).all()
        assert len((await session.execute(select(notes))).all()) == 1
    assert [tuple(r) for r in got] == [("s1", "python-side")]
