"""The registry's background loops: the import worker, which runs import jobs (摸排比对), and the
purge of the files of jobs that failed or were rejected.

A worker takes a job under a short lease (one UPDATE) and renews it by a heartbeat while it
works, so when its process dies another worker (or the restarted one) takes the job over within
seconds. The job's rows were read, checked and stored at upload (only the columns the import
reads, masked; `service/imports.py`); a job stored as uploaded by an older version is stored as
rows first. Then one transaction per chunk of rows (the use case `import_chunk`, with the job's
progress). A resumed job starts after the last committed chunk; the rows before it are read
again only to rebuild the file's duplicate check. While one chunk is written, the next is read
and validated in a thread, or for a large job in a process of its own (`import_reader`), and on
PostgreSQL also looked up and planned in a transaction of its own (`_Chunk`: it writes once the
one before has committed). The transaction that finishes a job deletes its stored rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from libs.common.collector import collector_paused
from libs.common.db import Database
from libs.common.logging import get_logger
from libs.common.service import Runtime, WorkerFactory
from libs.common.tables import utcnow
from libs.common.tasks import PeriodicJob, StopSignal, stop_loop
from services.registry.domain.imports import (
    FilesTouched,
    ImportCounts,
    ImportJob,
    MissingColumns,
    RowBatch,
)
from services.registry.domain.organizations import Rules
from services.registry.import_reader import PROCESS_MIN_ROWS, JobRows, RowSource, open_rows
from services.registry.ledger_codes import LedgerCodes
from services.registry.service import branches
from services.registry.service import imports as service
from services.registry.settings import RegistrySettings
from services.registry.sheets import SheetError, SheetLimits
from services.registry.store.uow import RegistryUnitOfWork

log = get_logger(__name__)

DEFAULT_CHUNK_ROWS = 2000
DEFAULT_LEASE = timedelta(seconds=15)


# -- reading the stored file ---------------------------------------------------------------------


async def _materialise(db: Database, job: ImportJob, folder: Path) -> Path:
    """The stored file written to a local temporary file, one piece at a time."""
    suffix = ".jsonl" if job.stored_as == service.STORED_ROWS else Path(job.filename).suffix
    path = folder / ("stored" + suffix.lower())
    seq = 0
    with path.open("wb") as out:
        while True:
            async with RegistryUnitOfWork(db, readonly=True) as uow:
                block = await service.file_piece(uow, job.id, seq)
            if block is None:
                return path
            await asyncio.to_thread(out.write, block)
            seq += 1


async def _as_rows(
    db: Database, job: ImportJob, owner: str, path: Path, limits: SheetLimits | None
) -> Path | str:
    """A job stored as uploaded (before migration 0010) stored as its kept rows instead: the
    rows' path, or the job's status when the file is rejected or the job lost."""
    out = path.with_name("rows.jsonl")
    kept = service.StoredRows(out, job.content_hash, job.size_bytes)
    try:
        kept.header, kept.rows_total = await asyncio.to_thread(
            service.write_rows, path, job.filename, job.source, out, limits
        )
    except (SheetError, MissingColumns) as exc:
        return await _reject(db, job, owner, exc)
    finally:
        await asyncio.to_thread(path.unlink)  # the file as uploaded is not needed any more
    async with RegistryUnitOfWork(db) as uow:
        if not await service.restore_as_rows(uow, job, owner, kept):
            return "running"
    return out


@contextlib.asynccontextmanager
async def _heartbeat(
    db: Database, job: ImportJob, owner: str, lease: timedelta, every: float
) -> AsyncIterator[asyncio.Event]:
    """Renew the job's lease every `every` seconds while the block runs; the event it yields
    is set when the job turns out to be another worker's."""
    lost = asyncio.Event()
    done = asyncio.Event()

    async def beat() -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), every)
                return
            try:
                async with RegistryUnitOfWork(db) as uow:
                    held = await service.renew_lease(uow, job, owner, utcnow() + lease)
            except Exception:  # a store that does not answer now may answer at the next beat
                log.exception("import lease not renewed", import_id=job.id)
                continue
            if not held:  # taken over (or, a moment ago, finished by this very worker)
                log.info("import lease no longer held", import_id=job.id)
                lost.set()
                return

    task = asyncio.create_task(beat(), name=f"import-heartbeat-{job.id}")
    try:
        yield lost
    finally:
        done.set()
        await task


# -- running a job -------------------------------------------------------------------------------


async def run_job(
    db: Database,
    job_id: str,
    owner: str,
    rules: Rules,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    lease: timedelta = DEFAULT_LEASE,
    heartbeat: float | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    max_chunks: int | None = None,
    limits: SheetLimits | None = None,
    process_min_rows: int | None = PROCESS_MIN_ROWS,
    overlap: bool | None = None,
) -> str:
    """Process a job this worker has claimed, renewing its lease every `heartbeat` seconds
    (a third of the lease unless given); returns its status when this run ends. Its rows are
    read in a process of their own when at least `process_min_rows` are left (None: never).
    A chunk is planned while the one before it writes when `overlap` (unless given: on
    PostgreSQL; SQLite has one writer)."""
    async with RegistryUnitOfWork(db, readonly=True) as uow:
        job = await service.get_job(uow, job_id)
    if job is None:
        return "missing"
    every = heartbeat if heartbeat is not None else lease.total_seconds() / 3
    folder = Path(tempfile.mkdtemp(prefix="pb-import-"))
    try:
        async with _heartbeat(db, job, owner, lease, every) as lost:
            path: Path | str = await _materialise(db, job, folder)
            if job.stored_as != service.STORED_ROWS:
                path = await _as_rows(db, job, owner, Path(path), limits)
                if isinstance(path, str):
                    return path
            left = job.rows_total - job.rows_done if job.rows_total is not None else None
            to_read = JobRows(
                Path(path),
                job.source,
                job.region_code,
                eligible_at=rules.standalone_min_full_members,
                chunk_rows=chunk_rows,
                ledger=LedgerCodes.of(db.url),
            )
            rows = await open_rows(
                to_read,
                skip=job.rows_done,
                left=left if job.stored_as == service.STORED_ROWS else None,
                process_min_rows=process_min_rows,
            )
            try:
                return await _run_chunks(
                    db,
                    job,
                    owner,
                    rules,
                    rows,
                    lease=lease,
                    should_stop=lambda: should_stop() or lost.is_set(),
                    max_chunks=max_chunks,
                    overlap=db.dialect == "postgresql" if overlap is None else overlap,
                )
            finally:
                await rows.close()  # nothing reads the temporary file once it is removed
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class _Progress:
    """Where a job stands after a chunk commits: its counts so far and the rows done."""

    counts: ImportCounts
    done: int


@dataclass(frozen=True)
class _JobRun:
    """What the chunks of one run of a job share: the store, the job, whose it is, the rules,
    and how long each commit extends the lease."""

    db: Database
    job: ImportJob
    owner: str
    rules: Rules
    lease: timedelta


class _Chunk:
    """One chunk of a job in its own transaction, with the job's progress.

    It may start while the chunk before it (`before`) is still writing (PostgreSQL): its files
    are looked up, locked and planned meanwhile, and its writes begin once `before` has
    committed, so chunks commit in the file's order and a chunk whose `before` failed rolls
    back with it. A file `before` holds (locked) is read by this chunk only once `before` has
    committed; a row naming a file `before` registers or changes (`FilesTouched`, which an open
    transaction would not show) makes this chunk wait for that commit before it looks up."""

    def __init__(
        self, run: _JobRun, batch: RowBatch, *, before: _Chunk | None, start: _Progress
    ) -> None:
        self.planned: asyncio.Future[FilesTouched] = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(self._run(run, batch, before, start))

    async def _run(
        self, run: _JobRun, batch: RowBatch, before: _Chunk | None, start: _Progress
    ) -> _Progress:
        # A chunk's objects (its batch, thousands of rows) live until it commits: the collector
        # is held off over it (`collector_paused`), and they are let go before it resumes.
        with collector_paused():
            try:
                job = run.job
                async with RegistryUnitOfWork(run.db) as uow:
                    if before is not None and (await before.planned).named_in(batch):
                        await before.task
                    plan = await service.plan_import(uow, job, batch)
                    self.planned.set_result(FilesTouched.by(plan))
                    if before is not None:
                        start = await before.task
                    total = ImportCounts(**start.counts.as_dict())
                    total.add(await service.write_import(uow, job, plan, run.rules))
                    done = start.done + batch.consumed
                    del batch, plan
                    await service.record_progress(
                        uow,
                        job,
                        run.owner,
                        rows_done=done,
                        counts=total,
                        lease_until=utcnow() + run.lease,
                    )
            except BaseException as exc:
                if not self.planned.done():
                    self.planned.set_exception(exc)
                    self.planned.exception()  # retrieved: the task's own failure is what counts
                raise
            return _Progress(total, done)


async def _run_chunks(
    db: Database,
    job: ImportJob,
    owner: str,
    rules: Rules,
    rows: RowSource,
    *,
    lease: timedelta,
    should_stop: Callable[[], bool],
    max_chunks: int | None,
    overlap: bool,
) -> str:
    """The job's chunks from where it stands, each in its own transaction with the progress.

    The next batch is read and validated (in a thread or a process) while this one is written.
    With `overlap` the next chunk is also looked up and planned while this one writes
    (`_Chunk`), two transactions at most in flight; without, one chunk at a time."""
    run = _JobRun(db, job, owner, rules, lease)
    progress = _Progress(ImportCounts(**job.counts), job.rows_done)
    in_flight: list[_Chunk] = []  # the chunk writing, and the one planned after it
    chunks = 0
    try:
        while True:
            if should_stop() or (max_chunks is not None and chunks >= max_chunks):
                for chunk in in_flight:
                    progress = await chunk.task
                async with RegistryUnitOfWork(db) as uow:  # another worker (or a restart) resumes
                    await service.release_job(uow, job, owner)
                return "running"
            # A batch's objects (thousands of rows) live until its chunk commits: the collector
            # is held off while they do (`collector_paused`, in the chunk too).
            with collector_paused():
                batch = await rows.next_batch()
                if batch.ledger_failure is not None:
                    log.warning(
                        "import reader drafts every record: its ledger look-up failed",
                        import_id=job.id,
                        error=batch.ledger_failure,
                    )
                if batch.consumed == 0:
                    break
                before = in_flight[-1] if in_flight else None
                chunk = _Chunk(run, batch, before=before, start=progress)
                in_flight.append(chunk)
                del batch
                if overlap:  # planned; then the one before it committed, this one writing
                    await chunk.planned
                    if before is not None:
                        progress = await before.task
                        in_flight.remove(before)
                else:
                    progress = await chunk.task
                    in_flight.remove(chunk)
                del chunk, before
                chunks += 1
        for chunk in in_flight:
            progress = await chunk.task
    except BaseException as exc:
        # a chunk still in flight ends (commits or rolls back) before the job's error is raised
        for chunk in in_flight:
            if isinstance(exc, asyncio.CancelledError):
                chunk.task.cancel()
            with contextlib.suppress(BaseException):
                await chunk.task
        raise
    async with RegistryUnitOfWork(db) as uow:
        await service.finish_job(uow, job, owner)
    log.info("import done", import_id=job.id, **progress.counts.as_dict())
    return "done"


async def _reject(
    db: Database, job: ImportJob, owner: str, exc: SheetError | MissingColumns
) -> str:
    missing = exc.missing if isinstance(exc, MissingColumns) else None
    async with RegistryUnitOfWork(db) as uow:
        await service.reject_job(uow, job, owner, exc.reason, missing)
    log.info("import rejected", import_id=job.id, reason=exc.reason)
    return "rejected"


# -- the worker ----------------------------------------------------------------------------------


class ImportWorker:
    """Takes queued import jobs (and jobs whose worker died) and runs them, one at a time."""

    def __init__(
        self,
        db: Database,
        rules: Rules,
        *,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        poll_seconds: float = 2.0,
        lease: timedelta = DEFAULT_LEASE,
        heartbeat: float | None = None,
        limits: SheetLimits | None = None,
    ) -> None:
        self.db = db
        self.limits = limits
        self.rules = rules
        self.chunk_rows = chunk_rows
        self.poll_seconds = poll_seconds
        self.lease = lease
        self.heartbeat = heartbeat
        self.owner = f"import-worker-{uuid.uuid4().hex[:12]}"
        self._signal = StopSignal()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="registry-import-worker")

    def wake(self) -> None:
        """A job was queued: look now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        await stop_loop(self._task, self._signal, grace=10.0)

    async def _run(self) -> None:
        while not self._signal.is_set:
            self._wake.clear()
            try:
                worked = await self.run_once()
            except Exception:
                log.exception("import worker round failed")
                worked = False
            if not worked:
                await self._signal.sleep(self.poll_seconds, wake=self._wake)

    async def run_once(self) -> bool:
        """Claim one job and run it; False when there was none."""
        now = utcnow()
        async with RegistryUnitOfWork(self.db) as uow:
            job = await service.claim_job(uow, self.owner, now, self.lease)
            if job is None:
                return False
            if await service.give_up_if_exhausted(uow, job, self.owner, now):
                return True
        try:
            await run_job(
                self.db,
                job.id,
                self.owner,
                self.rules,
                chunk_rows=self.chunk_rows,
                lease=self.lease,
                heartbeat=self.heartbeat,
                should_stop=lambda: self._signal.is_set,
                limits=self.limits,
            )
        except Exception:
            # The store failed mid-job (a cut connection, say): give the lease up so that the
            # job is taken again at the next round (counted as an attempt), not when the lease
            # runs out. If the store cannot take even that, the lease expires as before.
            with contextlib.suppress(Exception):
                async with RegistryUnitOfWork(self.db) as uow:
                    await service.release_job(uow, job, self.owner)
            raise
        return True


def import_worker(settings: RegistrySettings) -> WorkerFactory:
    """The worker factory `ServiceDefinition.workers` takes, with the registry's own settings."""

    def make(runtime: Runtime) -> ImportWorker:
        return ImportWorker(
            runtime.db,
            settings.rules(),
            lease=timedelta(seconds=settings.import_lease_seconds),
            heartbeat=settings.import_heartbeat_seconds,
            limits=settings.sheet_limits(),
        )

    return make


def import_file_purge(settings: RegistrySettings) -> WorkerFactory:
    """Deletes the stored files of jobs that failed or were rejected, once
    `import_file_retention_hours` have passed (a done job's go when it finishes)."""
    retention = timedelta(hours=settings.import_file_retention_hours)

    def make(runtime: Runtime) -> PeriodicJob:
        async def purge() -> int:
            async with RegistryUnitOfWork(runtime.db) as uow:
                pieces = await service.purge_files(uow, retention)
            if pieces:
                log.info("import files purged", pieces=pieces)
            return pieces

        return PeriodicJob("registry-import-file-purge", settings.import_file_purge_seconds, purge)

    return make


def rectification_deadlines(settings: RegistrySettings) -> WorkerFactory:
    """Announces each branch still needing rectification after its deadline, once per deadline
    (`pb.registry.branch.rectification_overdue`), on the offices' day."""

    def make(runtime: Runtime) -> PeriodicJob:
        async def announce() -> int:
            async with RegistryUnitOfWork(runtime.db) as uow:
                found = await branches.announce_overdue_rectifications(uow, settings.office_today())
            if found:
                log.info("rectification deadlines passed", branches=found)
            return found

        return PeriodicJob(
            "registry-rectification-deadlines", settings.rectification_check_seconds, announce
        )

    return make


def worker_of(runtime: Runtime) -> ImportWorker | None:
    """The runtime's import worker, to wake when a job is queued (None when it runs none)."""
    return next((w for w in runtime.workers if isinstance(w, ImportWorker)), None)
