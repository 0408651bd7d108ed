"""Chunks in flight together (PostgreSQL: the next chunk planned while the one before it
writes) import a file exactly as one chunk at a time does, and a failure in either leaves the
job where its last committed chunk left it."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from libs.common.audit import Actor
from libs.common.db import Database
from libs.common.tables import outbox, utcnow
from services.registry.domain.organizations import Rules
from services.registry.service import imports as service
from services.registry.service.organizations import new_organization
from services.registry.store.import_tables import (
    import_conflicts,
    import_jobs,
    import_row_errors,
    organization_sources,
)
from services.registry.store.imports import ImportRepository
from services.registry.store.organizations import OrganizationRepository
from services.registry.store.tables import organizations
from services.registry.store.uow import RegistryUnitOfWork
from services.registry.workers import run_job
from tests.harness import POSTGRESQL_ONLY, postgres_database
from tests.registry.imports_data import MARKET_HEADER, credit_code, csv_bytes, market_row

pytestmark = POSTGRESQL_ONLY

CHUNK = 10
OWNER = "worker"


def name(n: int) -> str:
    return f"大同市新荣区导入测试{n}有限公司"


def file_rows() -> list[list[str]]:
    """Five chunks: new files; new ones with a row naming a file the chunk before registers
    (another code, the same name: it must find that file); files the ledger has, by credit
    code; a provisional file found by name, which the row gives its credit code; new files."""
    rows = [market_row(n) for n in range(45)]
    rows[15] = market_row(15, **{"企业名称": name(3)})
    return rows


async def seed(db: Database) -> None:
    async with RegistryUnitOfWork(db) as uow:
        repo = OrganizationRepository(uow.session)
        files = [
            new_organization(
                credit_code=credit_code(n),
                name=name(n),
                kind="enterprise",
                region_code="140212101",
                industry_code="I6513",
                staff_count=10 + n % 40,
            )
            for n in range(20, 30)
        ]
        files.append(
            new_organization(
                credit_code="", name=name(35), kind="enterprise", region_code="140212101"
            )
        )
        await repo.add_many(files)


async def submit(db: Database) -> str:
    async with RegistryUnitOfWork(db) as uow:
        job, created = await service.submit_import(
            uow,
            Actor("tester", "140212"),
            source="market_supervision",
            region_code="140212",
            filename="a.csv",
            file=io.BytesIO(csv_bytes(MARKET_HEADER, file_rows())),
        )
    assert created
    async with RegistryUnitOfWork(db) as uow:
        assert await ImportRepository(uow.session).claim(
            job.id, OWNER, utcnow(), timedelta(minutes=2)
        )
    return job.id


async def run(db: Database, job_id: str, *, overlap: bool) -> str:
    return await run_job(
        db, job_id, OWNER, Rules(), chunk_rows=CHUNK, process_min_rows=None, overlap=overlap
    )


async def snapshot(db: Database) -> dict[str, Any]:
    """What an import left, without the ids and clocks that differ from run to run."""
    async with db.read() as session:

        async def rows(statement: Any) -> list[tuple[Any, ...]]:
            return sorted(tuple(r) for r in (await session.execute(statement)).all())

        o = organizations.c
        e = import_row_errors.c
        c = import_conflicts.c
        s = organization_sources.c
        j = import_jobs.c
        return {
            "organizations": await rows(
                select(o.credit_code, o.name, o.address, o.version, o.status, o.staff_count)
            ),
            "job": await rows(select(j.status, j.rows_done, j.counts)),
            "errors": await rows(select(e.row, e.field, e.reason, e.rejected)),
            "conflicts": await rows(select(c.row, c.field, c.ledger_value, c.incoming_value)),
            "sources": await rows(select(s.row, s.matched_by, s.source)),
            "events": Counter((await session.execute(select(outbox.c.type))).scalars()),
        }


async def test_chunks_in_flight_import_a_file_as_one_chunk_at_a_time_does(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = service.write_import

    async def slow_write(*args: Any, **kwargs: Any) -> Any:
        # each chunk's writes take a while: the next chunk is surely looked up meanwhile
        await asyncio.sleep(0.2)
        return await real(*args, **kwargs)

    monkeypatch.setattr(service, "write_import", slow_write)
    results = []
    for overlap in (False, True):
        async with postgres_database(template="registry") as url:
            db = Database(url, source="/pb/registry")
            try:
                await seed(db)
                assert await run(db, await submit(db), overlap=overlap) == "done"
                results.append(await snapshot(db))
            finally:
                await db.dispose()
    one_at_a_time, overlapped = results
    assert overlapped == one_at_a_time
    # the file did what it says: the row naming chunk 1's file found it, not a new file
    names = Counter(row[1] for row in one_at_a_time["organizations"])
    assert names[name(3)] == 1
    assert name(15) not in names
    assert one_at_a_time["job"][0][2]["updated"] >= 11  # the ledger's ten, and the provisional


@pytest.mark.parametrize("failing", ["write_import", "record_progress"])
async def test_a_failing_chunk_takes_the_chunk_planned_after_it_down_and_the_job_resumes(
    store: str, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    async with postgres_database(template="registry") as url:
        db = Database(url, source="/pb/registry")
        try:
            await seed(db)
            job_id = await submit(db)
            real = getattr(service, failing)
            calls = 0

            async def fails_third(*args: Any, **kwargs: Any) -> Any:
                nonlocal calls
                calls += 1
                if calls == 3:  # chunk 3 (chunk 4 planned meanwhile)
                    raise RuntimeError("the store went away")
                return await real(*args, **kwargs)

            monkeypatch.setattr(service, failing, fails_third)
            with pytest.raises(RuntimeError, match="went away"):
                await run(db, job_id, overlap=True)
            after_failure = await snapshot(db)
            assert after_failure["job"][0][1] == 2 * CHUNK  # chunks 1 and 2 only
            assert len(after_failure["organizations"]) == 11 + 2 * CHUNK - 1
            monkeypatch.setattr(service, failing, real)
            assert await run(db, job_id, overlap=True) == "done"
            resumed = await snapshot(db)
        finally:
            await db.dispose()
    async with postgres_database(template="registry") as url:
        db = Database(url, source="/pb/registry")
        try:
            await seed(db)
            assert await run(db, await submit(db), overlap=False) == "done"
            assert resumed == await snapshot(db)
        finally:
            await db.dispose()
