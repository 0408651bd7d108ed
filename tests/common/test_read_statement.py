"""`Database.read_statement`: one query, read as `read` reads it; on PostgreSQL outside a
transaction (one round trip, no BEGIN and COMMIT), and the connection it used goes back to the
pool as it came."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from libs.common.db import Database
from tests.harness import POSTGRESQL_ONLY

metadata = MetaData()
things = Table(
    "things", metadata, Column("id", Integer, primary_key=True), Column("name", String(20))
)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, source="/pb/test")
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


async def test_it_reads_what_is_committed(db: Database) -> None:
    async with db.unit_of_work() as uow:
        await uow.session.execute(insert(things), [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    async with db.read_statement() as session:
        got = (await session.execute(select(things).order_by(things.c.id))).all()
    assert [tuple(r) for r in got] == [(1, "a"), (2, "b")]


@POSTGRESQL_ONLY
async def test_no_transaction_and_the_pool_keeps_its_transactions(db: Database) -> None:
    async with db.read() as session:  # a read: its statements in one transaction
        await session.execute(select(things))
        driver: Any = (await (await session.connection()).get_raw_connection()).driver_connection
        assert driver.is_in_transaction()
    async with db.read_statement() as session:
        got = (await session.execute(select(things))).all()
        again: Any = (await (await session.connection()).get_raw_connection()).driver_connection
        assert again is driver  # the same pooled connection
        assert not driver.is_in_transaction()  # no BEGIN was sent, none to COMMIT
    assert got == []
    # the same connection in a transaction again: what it wrote is rolled back
    async with db.sessions() as session:
        await session.begin()
        await session.execute(insert(things), [{"id": 3, "name": "c"}])
        third: Any = (await (await session.connection()).get_raw_connection()).driver_connection
        assert third is driver
        assert driver.is_in_transaction()
        await session.rollback()
    async with db.read() as session:
        assert (await session.execute(select(things))).all() == []
