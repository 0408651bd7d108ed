"""SQLite through `OneHandOffConnection`: one hand-off to aiosqlite's thread per statement, the
transaction's BEGIN sent with its first statement, and still every transaction one transaction:
a rollback undoes what ran, a read sees one snapshot, a large result comes back whole."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text

from libs.common.audit import Actor, AuditedUnitOfWork, audit_table
from libs.common.db import Database, OneHandOffConnection
from libs.common.events import IntegrationEvent, catalogue
from libs.common.tables import outbox, platform_metadata
from tests.harness import wait_for

pytestmark = pytest.mark.integration

metadata = MetaData()
notes = Table(
    "hand_off_notes",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("note", String(20), nullable=False, unique=True),
)
audit_log = audit_table(metadata)


class AuditedNotes(AuditedUnitOfWork):
    audit_log = audit_log


ACTOR = Actor("tester", "14")


@catalogue.register(
    "pb.handofftest.note.written", version=1, producer="handofftest", subject_field="note"
)
class NoteWrittenV1(IntegrationEvent):
    """Emitted in tests of SQLite's hand-offs."""

    note: str


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}", source="/pb/test")
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.run_sync(platform_metadata.create_all)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def hand_offs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every function handed to a connection's thread from now on."""
    handed: list[str] = []
    original: Callable[..., Any] = OneHandOffConnection._execute

    async def counted(self: OneHandOffConnection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        handed.append(getattr(fn, "__name__", type(fn).__name__))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(OneHandOffConnection, "_execute", counted)
    return handed


async def count(db: Database) -> int:
    async with db.read() as session:
        return int((await session.execute(select(func.count()).select_from(notes))).scalar_one())


async def test_a_write_transaction_hands_off_once_per_statement_and_once_to_commit(
    db: Database, hand_offs: list[str]
) -> None:
    async with db.unit_of_work() as uow:
        await uow.session.execute(insert(notes).values(note="a").returning(notes.c.id))
        await uow.session.execute(insert(notes).values(note="b"))
    # BEGIN IMMEDIATE went with the first INSERT; aiosqlite's own cursor took 4 + 3 + 3 + 1
    assert hand_offs == ["_run", "_run", "commit"]
    assert await count(db) == 2


async def outbox_rows(db: Database) -> int:
    async with db.read() as session:
        return int((await session.execute(select(func.count()).select_from(outbox))).scalar_one())


async def test_the_outbox_insert_carries_the_commit(db: Database, hand_offs: list[str]) -> None:
    async with db.unit_of_work() as uow:
        await uow.session.execute(insert(notes).values(note="a"))
        uow.record(NoteWrittenV1(note="a"))
    assert hand_offs == ["_run", "_run"]  # BEGIN IMMEDIATE + INSERT; outbox INSERT + COMMIT
    assert (await count(db), await outbox_rows(db)) == (1, 1)


async def audit_entries(db: Database) -> list[str]:
    async with db.read() as session:
        return list((await session.execute(select(audit_log.c.entity_id))).scalars())


async def test_the_audit_entry_goes_with_the_outbox_insert_and_the_commit(
    db: Database, hand_offs: list[str]
) -> None:
    async with AuditedNotes(db) as uow:
        await uow.session.execute(insert(notes).values(note="a"))
        await uow.record_and_audit(
            ACTOR, NoteWrittenV1(note="a"), entity_type="note", region_code="14"
        )
    # BEGIN IMMEDIATE + INSERT; the audit entry's INSERT, the outbox INSERT and COMMIT
    assert hand_offs == ["_run", "_run"]
    assert (await count(db), await outbox_rows(db), await audit_entries(db)) == (1, 1, ["a"])


async def test_an_audit_entry_without_an_event_is_written_at_commit(db: Database) -> None:
    async with AuditedNotes(db) as uow:
        await uow.audit.record(
            ACTOR, "note.read", entity_type="note", entity_id="b", region_code="14"
        )
        assert await audit_entries(db) == []  # not before the commit
    assert await audit_entries(db) == ["b"]


async def test_an_audit_entry_goes_with_its_failed_commit_or_undone_savepoint(
    db: Database,
) -> None:
    uow = AuditedNotes(db)
    await uow.__aenter__()
    recorded = await uow.record_and_audit(
        ACTOR, NoteWrittenV1(note="lost"), entity_type="note", region_code="14"
    )
    clash = {"event_id": recorded.id, "type": "t", "subject": "s", "source": "x"}
    await uow.session.execute(
        insert(outbox).values(
            **clash, occurred_at=recorded.time, data=b"{}", created_at=recorded.time
        )
    )
    with pytest.raises(Exception, match="UNIQUE"):
        await uow.__aexit__(None, None, None)
    assert (await outbox_rows(db), await audit_entries(db)) == (0, [])
    async with AuditedNotes(db) as uow:
        await uow.record_and_audit(
            ACTOR, NoteWrittenV1(note="kept"), entity_type="note", region_code="14"
        )
        with contextlib.suppress(RuntimeError):
            async with uow.savepoint():
                await uow.record_and_audit(
                    ACTOR, NoteWrittenV1(note="undone"), entity_type="note", region_code="14"
                )
                raise RuntimeError("the nested step fails")
    assert (await outbox_rows(db), await audit_entries(db)) == (1, ["kept"])


async def test_when_the_statement_carrying_the_commit_fails_nothing_is_written(
    db: Database,
) -> None:
    uow = db.unit_of_work()
    await uow.__aenter__()
    await uow.session.execute(insert(notes).values(note="lost"))
    recorded = uow.record(NoteWrittenV1(note="lost"))
    # the same event id already in the outbox: the outbox INSERT fails, before its COMMIT
    clash = {"event_id": recorded.id, "type": "t", "subject": "s", "source": "x"}
    await uow.session.execute(
        insert(outbox).values(
            **clash, occurred_at=recorded.time, data=b"{}", created_at=recorded.time
        )
    )
    with pytest.raises(Exception, match="UNIQUE"):
        await uow.__aexit__(None, None, None)
    assert (await count(db), await outbox_rows(db)) == (0, 0)
    async with asyncio.timeout(5), db.unit_of_work() as uow:  # and the writer's turn is free
        await uow.session.execute(insert(notes).values(note="next"))
        uow.record(NoteWrittenV1(note="next"))
    assert (await count(db), await outbox_rows(db)) == (1, 1)


async def test_a_transaction_that_ran_nothing_hands_nothing_off(
    db: Database, hand_offs: list[str]
) -> None:
    async with db.unit_of_work():
        pass
    async with db.read():
        pass
    assert hand_offs == []
    async with db.unit_of_work() as uow:  # and the writer's turn was given back
        await uow.session.execute(insert(notes).values(note="after"))
    assert await count(db) == 1


async def test_the_deferred_begin_still_opens_a_transaction_a_rollback_undoes(
    db: Database,
) -> None:
    # Were BEGIN lost, the connection (autocommit in pysqlite's terms) would keep the row.
    uow = db.unit_of_work()
    await uow.__aenter__()
    await uow.session.execute(insert(notes).values(note="undone"))
    await uow.__aexit__(RuntimeError, RuntimeError("the use case fails"), None)
    assert await count(db) == 0


async def test_a_failing_first_statement_gives_the_turn_back(db: Database) -> None:
    async with db.unit_of_work() as uow:
        await uow.session.execute(insert(notes).values(note="taken"))
    with pytest.raises(Exception, match="UNIQUE"):
        async with db.unit_of_work() as uow:
            await uow.session.execute(insert(notes).values(note="taken"))
    async with db.unit_of_work() as uow:
        await uow.session.execute(insert(notes).values(note="next"))
    assert await count(db) == 2


async def test_a_read_sees_one_snapshot_across_its_statements(db: Database) -> None:
    async with db.read() as session:
        before = (await session.execute(select(func.count()).select_from(notes))).scalar_one()
        async with db.unit_of_work() as uow:  # commits between the read's two statements
            await uow.session.execute(insert(notes).values(note="meanwhile"))
        again = (await session.execute(select(func.count()).select_from(notes))).scalar_one()
    assert before == again == 0
    assert await count(db) == 1


async def test_results_larger_than_one_prefetch_come_back_whole(db: Database) -> None:
    total = 1_234  # the first 500 rows come with the statement, the rest in later hand-offs
    async with db.unit_of_work() as uow:
        await uow.session.execute(insert(notes), [{"note": f"n{i:05}"} for i in range(total)])
    wanted = [f"n{i:05}" for i in range(total)]
    async with db.read() as session:
        listed = (await session.execute(select(notes.c.note).order_by(notes.c.id))).scalars()
        assert list(listed) == wanted
        streamed = await session.stream(select(notes.c.note).order_by(notes.c.id))
        assert [row async for row in streamed.scalars()] == wanted
        partial = await session.stream(select(notes.c.note).order_by(notes.c.id))
        first = await partial.fetchmany(700)
        await partial.close()  # a cursor left open mid-result is closed in its thread
        assert list(first) == [(note,) for note in wanted[:700]]
        pragma = (await session.execute(text("PRAGMA journal_mode"))).scalar_one()
    assert pragma == "wal"


async def test_a_statement_cancelled_before_it_ran_leaves_no_transaction_behind(
    db: Database,
) -> None:
    # The thread is busy when the statement (with its BEGIN IMMEDIATE) is queued, and its caller
    # is cancelled before it runs: no transaction is open yet when the unit of work ends, so the
    # connection must not go back to the pool to open one afterwards (SQLAlchemy closes it).
    uow = db.unit_of_work()
    await uow.__aenter__()
    raw = await (await uow.session.connection()).get_raw_connection()
    driver: OneHandOffConnection = raw.driver_connection  # type: ignore[assignment]
    busy = asyncio.create_task(driver.in_thread(time.sleep, 0.3))
    statement = asyncio.create_task(uow.session.execute(insert(notes).values(note="cancelled")))

    async def queued() -> bool:  # the statement took the pending BEGIN into its hand-off
        return driver.begin_pending is None

    await wait_for(queued, timeout=5, interval=0.01)
    assert not busy.done()
    statement.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await statement
    await uow.__aexit__(asyncio.CancelledError, asyncio.CancelledError(), None)
    await busy
    assert driver._connection is None
    async with asyncio.timeout(5), db.unit_of_work() as next_uow:
        await next_uow.session.execute(insert(notes).values(note="next"))
    async with db.read() as session:
        assert (await session.execute(select(notes.c.note))).scalars().all() == ["next"]
