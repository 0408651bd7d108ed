"""An import's reader process asks the ledger which credit codes it has and drafts new files
only for the others (`ledger_codes`); the job imports the same either way."""

from __future__ import annotations

import asyncio
import io
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from libs.common.audit import Actor
from libs.common.db import Database
from libs.common.tables import utcnow
from services.registry.domain.organizations import Rules
from services.registry.import_reader import FileReader, JobRows, ProcessRows, _lookup
from services.registry.ledger_codes import LedgerCodes
from services.registry.service import imports as service
from services.registry.service.organizations import new_organization
from services.registry.store.import_tables import import_jobs, organization_sources
from services.registry.store.imports import ImportRepository
from services.registry.store.organizations import OrganizationRepository
from services.registry.store.tables import organizations
from services.registry.store.uow import RegistryUnitOfWork
from services.registry.workers import run_job
from tests.factories import announced
from tests.harness import ServiceDatabases
from tests.registry.imports_data import MARKET_HEADER, credit_code, csv_bytes, market_row

SOURCE = "market_supervision"
SCOPE = "140212"
OWNER = "worker"
ROWS = 30
IN_LEDGER = range(10, 20)  # the rows whose files the ledger has (by credit code)


async def ledger_db(service_databases: ServiceDatabases) -> Database:
    """The registry's store holding the files of `IN_LEDGER` and a provisional file."""
    db = Database(await service_databases.url("registry"), source="/pb/registry")
    files = [
        new_organization(
            credit_code=credit_code(n),
            name=f"大同市新荣区旧名{n}有限公司",
            kind="enterprise",
            region_code="140212101",
        )
        for n in IN_LEDGER
    ]
    files.append(
        new_organization(
            credit_code="", name="大同市新荣区无码店", kind="enterprise", region_code="140212101"
        )
    )
    async with RegistryUnitOfWork(db) as uow:
        await OrganizationRepository(uow.session).add_many(files)
    return db


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    upload = tmp_path / "upload.csv"
    upload.write_bytes(csv_bytes(MARKET_HEADER, [market_row(n) for n in range(ROWS)]))
    out = tmp_path / "rows.jsonl"
    service.write_rows(upload, "upload.csv", SOURCE, out)
    return out


async def test_the_ledger_says_which_of_the_codes_it_has(
    service_databases: ServiceDatabases,
) -> None:
    db = await ledger_db(service_databases)
    try:
        ledger = LedgerCodes.of(db.url)
        assert ledger is not None
        assert ledger.dialect == db.dialect
        # blocking, as in the reader process: in a thread beside the test's event loop
        lookup = await asyncio.to_thread(ledger.open)
        try:
            asked = [credit_code(n) for n in range(5, 25)]
            known = await asyncio.to_thread(lookup.known, asked)
            assert known == {credit_code(n) for n in IN_LEDGER}
            assert await asyncio.to_thread(lookup.known, [credit_code(99)]) == set()
        finally:
            await asyncio.to_thread(lookup.close)
    finally:
        await db.dispose()


async def test_a_reader_process_drafts_only_the_files_the_ledger_lacks(
    service_databases: ServiceDatabases, stored: Path
) -> None:
    db = await ledger_db(service_databases)
    try:
        to_read = JobRows(stored, SOURCE, SCOPE, 3, chunk_rows=ROWS, ledger=LedgerCodes.of(db.url))
        rows = ProcessRows.open(to_read, 0)
        try:
            batch = await rows.next_batch()
        finally:
            await rows.close()
        assert len(batch.records) == ROWS
        undrafted = {r.row for r in batch.records if r.draft is None}
        assert undrafted == {n + 2 for n in IN_LEDGER}  # a data row's number: after the header
    finally:
        await db.dispose()


async def test_a_job_read_in_a_process_imports_files_old_and_new(
    service_databases: ServiceDatabases,
) -> None:
    db = await ledger_db(service_databases)
    try:
        async with RegistryUnitOfWork(db) as uow:
            job, _ = await service.submit_import(
                uow,
                Actor("tester", SCOPE),
                source=SOURCE,
                region_code=SCOPE,
                filename="a.csv",
                file=io.BytesIO(csv_bytes(MARKET_HEADER, [market_row(n) for n in range(ROWS)])),
            )
        async with RegistryUnitOfWork(db) as uow:
            assert await ImportRepository(uow.session).claim(
                job.id, OWNER, utcnow(), timedelta(minutes=2)
            )
        # the first chunk read in a thread (every record drafted), the rest by the reader
        # process, whose second chunk is the files the ledger has
        status = await run_job(db, job.id, OWNER, Rules(), chunk_rows=10, process_min_rows=1)
        assert status == "done"
        async with db.read() as session:
            counts = (await session.execute(select(import_jobs.c.counts))).scalar_one()
            total = (
                await session.execute(select(func.count()).select_from(organizations))
            ).scalar_one()
            names = set((await session.execute(select(organizations.c.name))).scalars())
            said = (
                await session.execute(
                    select(organization_sources.c.matched_by, func.count()).group_by(
                        organization_sources.c.matched_by
                    )
                )
            ).all()
        assert counts["new"] == ROWS - len(IN_LEDGER)
        assert counts["updated"] == len(IN_LEDGER)  # each gains the address the row gives
        assert total == ROWS + 1  # and the provisional file
        assert {
            f"大同市新荣区导入测试{n}有限公司" for n in range(ROWS) if n not in IN_LEDGER
        } <= names
        assert dict(said) == {"new": ROWS - len(IN_LEDGER), "credit_code": len(IN_LEDGER)}
        assert len(await announced(db, "registered")) == ROWS - len(IN_LEDGER)
    finally:
        await db.dispose()


async def test_a_lookup_that_fails_leaves_every_record_drafted_and_says_why(
    service_databases: ServiceDatabases, stored: Path, tmp_path: Path
) -> None:
    # a store that cannot be reached: no look-up at all (blocking calls: in a thread)
    missing = LedgerCodes("sqlite", str(tmp_path / "missing" / "x.db"))
    assert await asyncio.to_thread(_lookup, missing) == (None, "OperationalError")
    refused = LedgerCodes("postgresql", "postgresql://nobody@127.0.0.1:1/none")
    lookup, failure = await asyncio.to_thread(_lookup, refused)
    assert lookup is None
    assert failure is not None
    # a store without the ledger's table: the first look-up fails, and the reader stops asking
    ledger = LedgerCodes.of(await service_databases.url("coverage"))
    assert ledger is not None
    lookup, failure = await asyncio.to_thread(_lookup, ledger)
    assert lookup is not None
    assert failure is None
    reader = FileReader(stored, SOURCE, SCOPE, 3, lookup)
    first = await asyncio.to_thread(reader.take, ROWS // 2)
    assert reader.ledger is None
    assert first.ledger_failure in ("OperationalError", "UndefinedTableError")  # said once
    second = await asyncio.to_thread(reader.take, ROWS)
    assert second.ledger_failure is None
    records = first.records + second.records
    assert len(records) == ROWS
    assert all(r.draft is not None for r in records)


def test_a_store_url_says_where_the_reader_finds_the_ledger(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    assert LedgerCodes.of(f"sqlite+aiosqlite:///{path}") == LedgerCodes("sqlite", str(path))
    assert LedgerCodes.of("sqlite+aiosqlite://") is None  # in memory: this process's only
    assert LedgerCodes.of("sqlite+aiosqlite:///:memory:") is None
    assert LedgerCodes.of("sqlite+aiosqlite:///file:shared?mode=memory&uri=true") is None
    assert LedgerCodes.of(f"sqlite+aiosqlite:///{path}?mode=memory&uri=true") is None
    pg = LedgerCodes.of("postgresql+asyncpg://pb:secret@db.internal:5433/registry")
    assert pg == LedgerCodes("postgresql", "postgresql://pb:secret@db.internal:5433/registry")
    assert LedgerCodes.of("mysql+aiomysql://pb@db/registry") is None


def test_a_sqlite_file_whose_name_looks_like_a_uri_is_read_as_itself(tmp_path: Path) -> None:
    odd = tmp_path / "ledger?mode=rwc#1.db"  # a name sqlite's URI form would cut short
    with sqlite3.connect(odd) as connection:
        connection.execute("CREATE TABLE organizations (credit_code TEXT UNIQUE)")
        connection.execute("INSERT INTO organizations VALUES (?)", (credit_code(1),))
    connection.close()
    before = sorted(tmp_path.iterdir())
    lookup = LedgerCodes("sqlite", str(odd)).open()
    try:
        assert lookup.known([credit_code(1), credit_code(2)]) == {credit_code(1)}
    finally:
        lookup.close()
    assert sorted(tmp_path.iterdir()) == before  # no other file made beside it
