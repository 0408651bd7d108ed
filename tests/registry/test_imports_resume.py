"""An import job resumes after its worker dies: chunks committed once, the rest done by another."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from libs.common.audit import Actor
from libs.common.db import Database
from libs.common.tables import utcnow
from services.registry.domain.organizations import Rules
from services.registry.import_reader import PROCESS_MIN_ROWS
from services.registry.service.imports import submit_import
from services.registry.store.import_tables import import_jobs, import_row_errors
from services.registry.store.imports import ImportRepository
from services.registry.store.tables import organizations
from services.registry.store.uow import RegistryUnitOfWork
from services.registry.workers import ImportWorker, run_job
from tests.factories import announced
from tests.harness import ServiceDatabases
from tests.registry.imports_data import MARKET_HEADER, csv_bytes, market_row


async def count(db: Database, statement: Any) -> int:
    async with db.read() as session:
        return int((await session.execute(statement)).scalar_one())


@pytest.mark.parametrize("title", [False, True], ids=["header-first", "title-above"])
@pytest.mark.parametrize("process_min_rows", [PROCESS_MIN_ROWS, 1], ids=["thread", "process"])
async def test_a_job_resumes_where_its_dead_worker_stopped(
    service_databases: ServiceDatabases, title: bool, process_min_rows: int
) -> None:
    db = Database(await service_databases.url("registry"), source="/pb/registry")
    try:
        rows = [market_row(n) for n in range(25)] + [market_row(3)]  # the last one a duplicate
        data = csv_bytes(MARKET_HEADER, rows)
        if title:  # a title and a blank line above the header: the rows are numbered after them
            data = "新荣区市场主体登记名录\n\n".encode() + data
        async with RegistryUnitOfWork(db) as uow:
            job, created = await submit_import(
                uow,
                Actor("tester", "140212"),
                source="market_supervision",
                region_code="140212",
                filename="a.csv",
                file=io.BytesIO(data),
            )
        assert created
        async with db.unit_of_work() as uow:
            assert await ImportRepository(uow.session).claim(
                job.id, "dying", utcnow(), timedelta(minutes=2)
            )
        status = await run_job(
            db,
            job.id,
            "dying",
            Rules(),
            chunk_rows=10,
            max_chunks=1,
            process_min_rows=process_min_rows,  # the rows read in a process of their own, or not
        )
        assert status == "running"
        assert await count(db, select(import_jobs.c.rows_done)) == 10
        assert await count(db, select(func.count()).select_from(organizations)) == 10
        # The worker "died" holding its lease; a live one must wait for it to run out.
        async with db.unit_of_work() as uow:
            await uow.session.execute(
                update(import_jobs).values(
                    lease_owner="dying", lease_until=utcnow() + timedelta(minutes=1)
                )
            )
        worker = ImportWorker(db, Rules(), chunk_rows=10)
        assert not await worker.run_once()
        async with db.unit_of_work() as uow:
            await uow.session.execute(
                update(import_jobs).values(lease_until=utcnow() - timedelta(seconds=1))
            )
        assert await worker.run_once()
        async with db.read() as session:
            finished = await ImportRepository(session).get_job(job.id)
        assert finished is not None
        assert finished.status == "done"
        assert finished.attempts == 2
        assert finished.counts["new"] == 25
        assert finished.counts["rows"] == 26
        assert finished.counts["rejected"] == 1  # the duplicate is caught across the restart
        assert await count(db, select(func.count()).select_from(organizations)) == 25
        files = [f["organization_id"] for f in await announced(db, "registered")]
        assert len(files) == len(set(files)) == 25  # each once
        async with db.read() as session:
            reasons = (await session.execute(select(import_row_errors.c.reason))).scalars().all()
        first = 5 + 2 * title
        assert reasons == [f"duplicate of row {first} (same credit code)"]
    finally:
        await db.dispose()
