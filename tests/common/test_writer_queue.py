"""SQLite's one writer, queued in the process (`WriterQueue`): concurrent write transactions
take turns without SQLite's busy waits, and a turn is never lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from libs.common.db import Database

pytestmark = pytest.mark.integration

metadata = MetaData()
notes = Table(
    "writer_queue_notes",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("writer", String(20), nullable=False),
)


async def database(tmp_path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}", source="/pb/test")
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return db


async def test_concurrent_writers_take_turns_and_all_commit(tmp_path: Path) -> None:
    db = await database(tmp_path)
    order: list[int] = []

    async def write(n: int) -> None:
        async with db.unit_of_work() as uow:
            await uow.session.execute(insert(notes).values(writer=f"w{n}"))
            order.append(n)
            await asyncio.sleep(0.01)  # the transaction stays open across turns of the loop

    try:
        await asyncio.gather(*(write(n) for n in range(20)))
        async with db.read() as session:
            written = (await session.execute(select(func.count()).select_from(notes))).scalar()
        assert written == 20
        assert sorted(order) == list(range(20))
    finally:
        await db.dispose()


async def test_a_rolled_back_or_failed_transaction_gives_its_turn_up(tmp_path: Path) -> None:
    db = await database(tmp_path)
    try:
        uow = db.unit_of_work()
        await uow.__aenter__()
        await uow.session.execute(insert(notes).values(writer="failed"))
        await uow.__aexit__(RuntimeError, RuntimeError("the use case fails"), None)
        async with asyncio.timeout(5), db.unit_of_work() as uow:
            await uow.session.execute(insert(notes).values(writer="next"))
        async with db.read() as session:
            assert (await session.execute(select(notes.c.writer))).scalars().all() == ["next"]
    finally:
        await db.dispose()


async def test_a_writer_whose_task_was_cancelled_mid_transaction_does_not_block(
    tmp_path: Path,
) -> None:
    db = await database(tmp_path)
    holding = asyncio.Event()

    async def hold() -> None:
        async with db.unit_of_work() as uow:
            await uow.session.execute(insert(notes).values(writer="cancelled"))
            holding.set()
            await asyncio.sleep(60)

    try:
        task = asyncio.create_task(hold())
        await holding.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with asyncio.timeout(5), db.unit_of_work() as uow:
            await uow.session.execute(insert(notes).values(writer="next"))
        async with db.read() as session:
            assert (await session.execute(select(notes.c.writer))).scalars().all() == ["next"]
    finally:
        await db.dispose()
