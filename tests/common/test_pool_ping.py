"""The PostgreSQL pool pings a connection before handing it out only when it sat idle a while
(`PING_AFTER_IDLE_S`): a connection that died while idle is replaced unseen; one that died
within the second fails its statement once, and the pool then reconnects every other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from libs.common import db as db_module
from libs.common.db import Database
from tests.harness import POSTGRESQL_ONLY, postgres_database

pytestmark = POSTGRESQL_ONLY


@pytest.fixture
async def database(store: str) -> AsyncIterator[Database]:
    assert store == "postgresql"
    async with postgres_database() as url:
        database = Database(url, source="/test")
        try:
            yield database
        finally:
            await database.dispose()


async def _backends(database: Database, count: int) -> list[int]:
    """The server pids of `count` pooled connections, all handed back to the pool."""
    sessions = [database.sessions() for _ in range(count)]
    pids = [(await s.execute(text("SELECT pg_backend_pid()"))).scalar_one() for s in sessions]
    for session in sessions:
        await session.close()
    assert len(set(pids)) == count
    return pids


async def _cut(url: str, pids: list[int]) -> None:
    """Terminate the backends from a connection of another engine (not from the pool)."""
    other = Database(url, source="/test")
    try:
        async with other.sessions() as session:
            for pid in pids:
                await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await other.dispose()
    await asyncio.sleep(0.1)  # the backends exit


async def _pid(database: Database) -> int:
    async with database.sessions() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_idle_past_the_limit_is_pinged_and_a_dead_one_replaced(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 0.05)
    killed = await _backends(database, 3)
    await _cut(database.url, killed)  # more than 0.05 s idle by now
    pids = {await _pid(database) for _ in range(5)}
    assert not pids & set(killed)


async def test_a_connection_back_within_the_limit_is_not_pinged(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a ping, a connection that died in that second fails its statement (the API
    answers 503); SQLAlchemy then takes every older connection of the pool for stale, so the
    next checkouts reconnect rather than fail one by one."""
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 3600.0)
    killed = await _backends(database, 3)
    await _cut(database.url, killed)
    with pytest.raises(DBAPIError) as failed:
        await _pid(database)
    assert failed.value.connection_invalidated
    pids = {await _pid(database) for _ in range(5)}
    assert not pids & set(killed)
