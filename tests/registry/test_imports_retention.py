"""An import keeps only the columns it reads, masked, and only while its job needs them; a job
whose worker dies is taken over within seconds, nothing lost or doubled."""

from __future__ import annotations

import asyncio
import io
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import Connection

from libs.common.audit import Actor
from libs.common.db import Database
from libs.common.migrations import alembic_config
from libs.common.tables import utcnow
from services.registry.domain.imports import MAX_ATTEMPTS
from services.registry.domain.organizations import Rules
from services.registry.service import imports as service
from services.registry.store.import_tables import import_file_chunks, import_jobs
from services.registry.store.imports import ImportRepository
from services.registry.store.tables import organizations
from services.registry.store.uow import RegistryUnitOfWork
from services.registry.workers import ImportWorker, _heartbeat, run_job
from tests.factories import announced
from tests.harness import ServiceDatabases, migrations_of, wait_for
from tests.registry.imports_data import MARKET_HEADER, credit_code, csv_bytes, market_row
from tests.registry.party_helpers import id_number

ACTOR = Actor("tester", "140212")
#: What the hostile file holds that must never be stored: the legal representative's ID number
#: and phone (their own columns), an ID number in 备注, one typed into the credit code column,
#: and a phone after an address.
LEGAL_ID = "11010519491231002X"
LEGAL_PHONE = "13800138000"
NOTE_ID = id_number(31)
MISTYPED_ID = id_number(32)
ADDRESS_PHONE = "13912345678"


def hostile_file() -> bytes:
    header = [*MARKET_HEADER, "备注"]
    rows = [[*market_row(n), f"法人证件{NOTE_ID}"] for n in range(1, 6)]
    rows.append([*market_row(6, 统一社会信用代码=MISTYPED_ID), ""])
    rows.append([*market_row(7, 住所=f"新荣区某路7号 电话{ADDRESS_PHONE}"), ""])
    return csv_bytes(header, rows)


SECRETS = (LEGAL_ID, LEGAL_PHONE, NOTE_ID, MISTYPED_ID, ADDRESS_PHONE)


async def count(db: Database, statement: Any) -> int:
    async with db.read() as session:
        return int((await session.execute(statement)).scalar_one())


async def stored_file(db: Database, job_id: str) -> str:
    async with db.read() as session:
        pieces = await session.execute(
            select(import_file_chunks.c.data)
            .where(import_file_chunks.c.job_id == job_id)
            .order_by(import_file_chunks.c.seq)
        )
        return b"".join(pieces.scalars()).decode()


async def submit(db: Database, data: bytes, filename: str = "a.csv") -> Any:
    async with RegistryUnitOfWork(db) as uow:
        job, created = await service.submit_import(
            uow,
            ACTOR,
            source="market_supervision",
            region_code="140212",
            filename=filename,
            file=io.BytesIO(data),
        )
    assert created
    return job


async def test_an_upload_keeps_only_the_columns_it_reads_masked_until_its_job_is_done(
    service_databases: ServiceDatabases,
) -> None:
    db = Database(await service_databases.url("registry"), source="/pb/registry")
    try:
        job = await submit(db, hostile_file())
        assert job.status == "queued"
        assert job.rows_total == 7  # read and checked at upload
        assert job.columns is not None
        assert {"法定代表人身份证号", "联系电话", "法定代表人"} <= set(job.columns["dropped"])
        kept = await stored_file(db, job.id)
        for secret in SECRETS:
            assert secret not in kept
        assert "备注" not in kept
        assert "成立日期" not in kept
        assert "139****5678" in kept  # the address itself is kept, its phone masked
        assert credit_code(1) in kept  # a credit code is not mistaken for an ID number

        assert await ImportWorker(db, Rules(), chunk_rows=3).run_once()
        async with db.read() as session:
            done = await ImportRepository(session).get_job(job.id)
            addresses = (await session.execute(select(organizations.c.address))).scalars().all()
            _, report = await ImportRepository(session).row_errors(job.id, None, 10)
        assert done is not None
        assert done.status == "done"
        assert done.counts["new"] == 6
        assert done.counts["rejected"] == 1
        assert "新荣区某路7号 电话139****5678" in addresses
        assert [(e["row"], e["field"]) for _, e in report] == [(7, "credit_code")]
        # Done: the stored rows went with the transaction that finished the job.
        assert await count(db, select(func.count()).select_from(import_file_chunks)) == 0
    finally:
        await db.dispose()


async def test_a_failed_jobs_rows_are_kept_for_the_retention_then_purged(
    service_databases: ServiceDatabases,
) -> None:
    db = Database(await service_databases.url("registry"), source="/pb/registry")
    try:
        refused = await submit(db, csv_bytes(["企业名称"], [["甲公司"]]), "refused.csv")
        assert refused.status == "rejected"  # refused on reading: nothing of it stored
        assert await stored_file(db, refused.id) == ""
        job = await submit(db, csv_bytes(MARKET_HEADER, [market_row(1)]))
        async with db.unit_of_work() as uow:
            await uow.session.execute(update(import_jobs).values(attempts=MAX_ATTEMPTS))
        worker = ImportWorker(db, Rules())
        assert await worker.run_once()  # the last attempt over the limit: failed
        async with db.read() as session:
            failed = await ImportRepository(session).get_job(job.id)
        assert failed is not None
        assert failed.status == "failed"
        pieces = select(func.count()).select_from(import_file_chunks)
        assert await count(db, pieces) == 1  # kept for a re-run
        retention = timedelta(hours=24)
        async with RegistryUnitOfWork(db) as uow:
            assert await service.purge_files(uow, retention) == 0
        async with db.unit_of_work() as uow:
            await uow.session.execute(
                update(import_jobs).values(finished_at=utcnow() - timedelta(hours=25))
            )
        async with RegistryUnitOfWork(db) as uow:
            assert await service.purge_files(uow, retention) == 1
        assert await count(db, pieces) == 0
    finally:
        await db.dispose()


async def test_a_job_stored_as_uploaded_is_stored_as_rows_before_it_runs(
    service_databases: ServiceDatabases,
) -> None:
    """A job queued before migration 0010 holds its file as uploaded: the worker replaces it
    with the kept rows, masked, then runs it."""
    db = Database(await service_databases.url("registry"), source="/pb/registry")
    try:
        data = hostile_file()
        job = await submit(db, data)
        async with db.unit_of_work() as uow:
            await uow.session.execute(
                update(import_jobs).values(stored_as="file", rows_total=None, columns=None)
            )
            await uow.session.execute(import_file_chunks.delete())
            await uow.session.execute(
                insert(import_file_chunks).values(job_id=job.id, seq=0, data=data)
            )
        async with db.unit_of_work() as uow:
            assert await ImportRepository(uow.session).claim(
                job.id, "w", utcnow(), timedelta(minutes=1)
            )
        assert await run_job(db, job.id, "w", Rules(), chunk_rows=2, max_chunks=1) == "running"
        kept = await stored_file(db, job.id)
        for secret in SECRETS:
            assert secret not in kept
        async with db.read() as session:
            now_rows = await ImportRepository(session).get_job(job.id)
        assert now_rows is not None
        assert (now_rows.stored_as, now_rows.rows_total, now_rows.rows_done) == ("rows", 7, 2)
        assert await ImportWorker(db, Rules()).run_once()
        assert await count(db, select(func.count()).select_from(organizations)) == 6
    finally:
        await db.dispose()


async def test_a_heartbeat_keeps_the_lease_and_a_dead_workers_job_is_taken_over(
    service_databases: ServiceDatabases,
) -> None:
    db = Database(await service_databases.url("registry"), source="/pb/registry")
    lease = timedelta(seconds=1)
    try:
        rows = 3000
        job = await submit(db, csv_bytes(MARKET_HEADER, [market_row(n) for n in range(rows)]))
        async with db.unit_of_work() as uow:
            assert await ImportRepository(uow.session).claim(job.id, "a", utcnow(), lease)
        other = ImportWorker(db, Rules(), lease=lease, heartbeat=0.3)
        async with _heartbeat(db, job, "a", lease, 0.25):
            for _ in range(6):  # three leases long: the heartbeat keeps it "a"'s
                assert not await other.run_once()
                await asyncio.sleep(0.5)
        # A worker dies between two chunks of its job: it holds the lease, its heartbeat stops.
        async with db.unit_of_work() as uow:
            await uow.session.execute(update(import_jobs).values(lease_until=utcnow() - lease))
            assert await ImportRepository(uow.session).claim(job.id, "dying", utcnow(), lease)
        chunks = 0

        def dies_after_three_chunks() -> bool:
            nonlocal chunks
            chunks += 1
            if chunks > 3:
                raise Died
            return False

        with pytest.raises(Died):
            await run_job(
                db,
                job.id,
                "dying",
                Rules(),
                chunk_rows=100,
                lease=lease,
                heartbeat=0.3,
                should_stop=dies_after_three_chunks,
            )
        assert await count(db, select(import_jobs.c.rows_done)) == 300
        died = time.monotonic()
        other.poll_seconds = 0.2
        other.start()
        try:
            owner = select(import_jobs.c.lease_owner)

            async def taken_over() -> bool:
                async with db.read() as session:
                    return bool((await session.execute(owner)).scalar_one() == other.owner)

            await wait_for(taken_over, timeout=10, interval=0.05)
            assert time.monotonic() - died < lease.total_seconds() + 1
            status = select(import_jobs.c.status)
            await wait_for(lambda: _is(db, status, "done"), timeout=60)
        finally:
            await other.stop()
        async with db.read() as session:
            finished = await ImportRepository(session).get_job(job.id)
        assert finished is not None
        assert finished.status == "done"
        assert finished.counts["new"] == rows
        assert await count(db, select(func.count()).select_from(organizations)) == rows
        files = [f["organization_id"] for f in await announced(db, "registered")]
        assert len(files) == len(set(files)) == rows  # each once
    finally:
        await db.dispose()


class Died(Exception):
    """The end of a worker's process, as far as the store can tell."""


async def _is(db: Database, statement: Any, value: str) -> bool:
    async with db.read() as session:
        return bool((await session.execute(statement)).scalar_one() == value)


async def _at_least(db: Database, statement: Any, n: int) -> bool:
    return await count(db, statement) >= n


async def test_migration_0010_forgets_the_files_of_finished_jobs(database_url: str) -> None:
    """Existing jobs: a done or rejected job's file goes, a waiting job keeps its file as
    uploaded (the worker stores it as rows), a failed one waits for the purge."""
    db = Database(database_url, source="/pb/registry")
    config = alembic_config(migrations_of("registry"), database_url)

    def upgrade(to: str) -> Any:
        def run(connection: Connection) -> None:
            config.attributes["connection"] = connection
            command.upgrade(config, to)

        return run

    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(upgrade("0009"))
            now = utcnow()
            for status in ("done", "rejected", "failed", "queued"):
                await connection.execute(
                    text(
                        "INSERT INTO import_jobs (id, source, region_code, filename, "
                        "content_hash, size_bytes, status, actor, actor_region, rows_done, "
                        "counts, attempts, created_at, updated_at) VALUES (:id, 'tax', "
                        "'140212', 'a.csv', :id, 3, :id, 't', '140212', 0, '{}', 0, :now, :now)"
                    ),
                    {"id": status, "now": now},
                )
                await connection.execute(
                    insert(import_file_chunks).values(job_id=status, seq=0, data=b"raw")
                )
            await connection.run_sync(upgrade("0010"))
            left = await connection.execute(
                select(import_file_chunks.c.job_id).order_by(import_file_chunks.c.job_id)
            )
            assert left.scalars().all() == ["failed", "queued"]
            stored_as = await connection.execute(select(import_jobs.c.stored_as).distinct())
            assert stored_as.scalars().all() == ["file"]
    finally:
        await db.dispose()


def test_the_stored_form_names_no_dropped_column(tmp_path: Path) -> None:
    """The first line of the stored rows says where the fields are: nothing else."""
    raw = tmp_path / "a.csv"
    raw.write_bytes(hostile_file())
    out = tmp_path / "rows.jsonl"
    header, total = service.write_rows(raw, "a.csv", "market_supervision", out)
    assert total == 7
    first = out.read_text(encoding="utf-8").splitlines()[0]
    assert set(header.over_kept()) == {
        "credit_code",
        "name",
        "address",
        "region_code",
        "industry_code",
        "staff_count",
        "operating_status",
    }
    assert "法定代表人" not in first


async def test_a_job_whose_round_fails_is_released_at_once_and_taken_again(
    service_databases: ServiceDatabases, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store failure mid-job (the chaos suite cuts PostgreSQL connections) gives the lease up
    at once: the next round takes the job again instead of waiting for the lease to run out."""
    db = Database(await service_databases.url("registry"), source="/pb/registry")
    try:
        job = await submit(db, csv_bytes(MARKET_HEADER, [market_row(n) for n in range(1, 4)]))
        worker = ImportWorker(db, Rules(), lease=timedelta(minutes=10))
        real = service.finish_job
        failures = iter([ConnectionResetError("connection cut")])

        async def cut_once(*args: Any, **kwargs: Any) -> None:
            failure = next(failures, None)
            if failure is not None:
                raise failure
            await real(*args, **kwargs)

        monkeypatch.setattr(service, "finish_job", cut_once)
        with pytest.raises(ConnectionResetError):
            await worker.run_once()
        async with db.read() as session:
            released = await ImportRepository(session).get_job(job.id)
        assert released is not None
        assert (released.status, released.lease_owner) == ("running", None)
        assert await worker.run_once()  # taken again at once, not in ten minutes
        async with db.read() as session:
            done = await ImportRepository(session).get_job(job.id)
        assert done is not None
        assert (done.status, done.counts["new"]) == ("done", 3)
    finally:
        await db.dispose()
