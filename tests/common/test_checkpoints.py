"""SQLite's WAL checkpoints run in the checkpointer's thread, not in the writers' commits."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text

from libs.common.checkpoints import FALLBACK_PAGES, WalCheckpointer
from libs.common.db import Database
from tests.harness import wait_for

metadata = MetaData()
notes = Table(
    "checkpoint_notes",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("body", String(2000), nullable=False),
)


async def test_commits_are_checkpointed_by_the_thread_and_writers_keep_a_fallback(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    db = Database(f"sqlite+aiosqlite:///{path}", source="/pb/test")
    try:
        checkpointer = db.checkpoints
        assert isinstance(checkpointer, WalCheckpointer)
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with db.engine.connect() as conn:
            pages = (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one()
        assert pages == FALLBACK_PAGES
        for start in range(0, 2_000, 500):
            async with db.engine.begin() as conn:
                await conn.execute(
                    insert(notes),
                    [{"id": i, "body": "x" * 1500} for i in range(start, start + 500)],
                )

        async def copied_into_the_file() -> bool:
            # the rows live in the log until a checkpoint copies them into the file, and
            # the writers' own would wait for FALLBACK_PAGES, far more than these
            return checkpointer.checkpoints > 0 and path.stat().st_size > 2_000 * 1_500

        await wait_for(copied_into_the_file, timeout=10)
        async with db.read() as session:
            assert (
                await session.execute(select(notes.c.id).order_by(notes.c.id.desc()))
            ).first() == (1_999,)
        assert checkpointer.running
    finally:
        await db.dispose()
    assert not checkpointer.running


def test_postgresql_and_memory_databases_have_none() -> None:
    assert Database("sqlite+aiosqlite:///:memory:", source="/pb/test").checkpoints is None
    assert Database("postgresql+asyncpg://u@127.0.0.1/x", source="/pb/test").checkpoints is None


async def test_reads_alone_wake_no_checkpoints(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    writer = Database(url, source="/pb/test")
    try:
        async with writer.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
    finally:
        await writer.dispose()
    db = Database(url, source="/pb/test")
    try:
        for _ in range(3):
            async with db.read() as session:
                await session.execute(select(notes.c.id))
        assert db.checkpoints is not None
        assert not db.checkpoints.running
        assert db.checkpoints.checkpoints == 0
    finally:
        await db.dispose()
