"""Import jobs (摸排比对): accepting a file, processing it chunk by chunk, and its report.

The uploaded file is stored in the database in 1 MB pieces (`import_file_chunks`), so whichever
replica's worker takes the job can read it, and a job survives a restart. A worker takes a job
under a lease (one UPDATE), checks the whole file first (encoding, formulas, header: a bad file
is rejected before anything changes), then commits one transaction per chunk of rows: the bulk
look-ups, the new and changed organisations, their events (outbox), audit entries, provenance,
rejected rows, conflicts, and the job's progress. A resumed job starts after the last committed
chunk; the rows before it are read again only to rebuild the file's duplicate check.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.audit import Actor
from libs.common.db import Database, UnitOfWork
from libs.common.logging import get_logger
from libs.common.service import Runtime
from libs.common.tables import utcnow
from libs.common.tasks import StopSignal, stop_loop
from services.registry.domain.imports import (
    SOURCES,
    FileDuplicates,
    HeaderMap,
    ImportCounts,
    MissingColumns,
    RowError,
    SourceRecord,
    map_header,
    match_record,
    merge_record,
    new_values,
    read_row,
)
from services.registry.domain.organizations import Organization, Rules
from services.registry.service.organizations import (
    Change,
    announce_changed,
    announce_registered,
    audit,
    new_organization,
)
from services.registry.settings import RegistrySettings
from services.registry.sheets import SheetError, iter_numbered, sheet_kind
from services.registry.store.imports import ImportJob, ImportRepository
from services.registry.store.organizations import OrganizationRepository

log = get_logger(__name__)

FILE_CHUNK_BYTES = 1 << 20
DEFAULT_CHUNK_ROWS = 2000
MAX_ATTEMPTS = 3


# -- accepting a file ----------------------------------------------------------------------------


def _hash(file: IO[bytes]) -> tuple[str, int]:
    file.seek(0)
    digest = hashlib.sha256()
    size = 0
    while block := file.read(FILE_CHUNK_BYTES):
        digest.update(block)
        size += len(block)
    file.seek(0)
    return digest.hexdigest(), size


async def submit_import(
    uow: UnitOfWork,
    actor: Actor,
    *,
    source: str,
    region_code: str,
    filename: str,
    file: IO[bytes],
) -> tuple[ImportJob, bool]:
    """Store the file as a queued job, or return the job that already has this very file from
    this source for this region (True when the job is new). `file` is read in 1 MB pieces."""
    sheet_kind(filename)  # an unsupported type is refused now, not after the upload is stored
    content_hash, size = await asyncio.to_thread(_hash, file)
    if size == 0:
        raise SheetError("the file is empty")
    repo = ImportRepository(uow.session)
    existing = await repo.find_job(source, region_code, content_hash)
    if existing is not None:
        return existing, False
    now = utcnow()
    job_id = str(uuid.uuid4())
    created = await repo.create_job(
        {
            "id": job_id,
            "source": source,
            "region_code": region_code,
            "filename": filename[:255],
            "content_hash": content_hash,
            "size_bytes": size,
            "status": "queued",
            "actor": actor.subject,
            "actor_region": actor.region_code,
            "rows_done": 0,
            "counts": ImportCounts().as_dict(),
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
    )
    if not created:  # the same file arrived concurrently: the other request's job stands
        raced = await repo.find_job(source, region_code, content_hash)
        assert raced is not None
        return raced, False
    seq = 0
    while block := await asyncio.to_thread(file.read, FILE_CHUNK_BYTES):
        await repo.add_file_chunks(job_id, [(seq, block)])
        seq += 1
    job = await repo.get_job(job_id)
    assert job is not None
    log.info("import queued", import_id=job_id, source=source, size_bytes=size)
    return job, True


# -- the report ------------------------------------------------------------------------------


@dataclass
class ImportReport:
    job: ImportJob
    errors_total: int
    errors: list[dict[str, Any]]
    conflicts_total: int
    conflicts: list[dict[str, Any]]


async def import_report(
    session: AsyncSession, job_id: str, *, errors_offset: int, conflicts_offset: int, limit: int
) -> ImportReport | None:
    repo = ImportRepository(session)
    job = await repo.get_job(job_id)
    if job is None:
        return None
    errors_total, errors = await repo.row_errors(job_id, errors_offset, limit)
    conflicts_total, conflicts = await repo.conflicts(job_id, conflicts_offset, limit)
    return ImportReport(job, errors_total, errors, conflicts_total, conflicts)


# -- reading the stored file ---------------------------------------------------------------------


async def _materialise(db: Database, job: ImportJob, folder: Path) -> Path:
    """The stored file written to a local temporary file, one piece at a time."""
    path = folder / ("upload" + Path(job.filename).suffix.lower())
    seq = 0
    with path.open("wb") as out:
        while True:
            async with db.read() as session:
                block = await ImportRepository(session).file_chunk(job.id, seq)
            if block is None:
                return path
            await asyncio.to_thread(out.write, block)
            seq += 1


@dataclass
class _Batch:
    records: list[SourceRecord] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    consumed: int = 0  # data rows read, blank ones included: the resume cursor moves by this
    rows: int = 0  # non-blank rows
    rejected_rows: int = 0


class _FileReader:
    """The file's rows, validated, in batches; used from a worker thread (it parses and checks
    plain Python, so the event loop stays free for requests)."""

    def __init__(self, path: Path, job: ImportJob) -> None:
        self.rows = iter_numbered(path, job.filename)
        _, header = next(self.rows)
        self.header: HeaderMap = map_header(SOURCES[job.source], header)
        self.scope = job.region_code
        self.duplicates = FileDuplicates()

    def count(self) -> int:
        return sum(1 for _ in self.rows)

    def take(self, n: int) -> _Batch:
        batch = _Batch()
        for number, cells in self.rows:
            batch.consumed += 1
            if cells:
                batch.rows += 1
                result = read_row(self.header, number, cells, self.scope)
                if isinstance(result, list):
                    batch.errors += result
                    batch.rejected_rows += 1
                else:
                    duplicate = self.duplicates.check(result)
                    if duplicate is not None:
                        batch.errors.append(duplicate)
                        batch.rejected_rows += 1
                    else:
                        batch.records.append(result)
            if batch.consumed >= n:
                break
        return batch

    def skip(self, n: int) -> None:
        """Pass over rows already imported, remembering them for the duplicate check."""
        while n > 0:
            n -= self.take(min(n, 10_000)).consumed or n


# -- processing a job ----------------------------------------------------------------------------


def _masked(organization: Organization, name: str, value: Any) -> Any:
    if name == "name" and organization.is_individual_business and isinstance(value, str):
        return value[:1] + "**"
    return value


async def _apply(uow: UnitOfWork, job: ImportJob, batch: _Batch, rules: Rules) -> ImportCounts:
    """One chunk in one transaction (the caller's unit of work): what it counted."""
    counts = ImportCounts(rows=batch.rows, rejected=batch.rejected_rows)
    repo = ImportRepository(uow.session)
    organizations = OrganizationRepository(uow.session)
    errors = list(batch.errors)
    by_code = await repo.organizations_by_credit_code(
        r.credit_code for r in batch.records if r.credit_code
    )
    by_name = await repo.organizations_by_name_key(
        (r.name_key for r in batch.records if r.credit_code not in by_code), job.region_code
    )
    matched: dict[str, tuple[SourceRecord, Organization, str]] = {}
    fresh: list[tuple[SourceRecord, Organization]] = []
    for record in batch.records:
        found = match_record(record, by_code, by_name, job.region_code)
        if found.error is not None:
            errors.append(found.error)
            counts.rejected += 1
        elif found.organization is None:
            fresh.append((record, new_organization(**new_values(record))))
        elif found.organization.id in matched:
            first = matched[found.organization.id][0].row
            errors.append(RowError(record.row, "name", f"the same organisation as row {first}"))
            counts.rejected += 1
        else:
            matched[found.organization.id] = (record, found.organization, found.by)
    said = await repo.said_before(matched, job.source)
    now = utcnow()
    changes: list[Change] = []
    conflicts: list[tuple[int, str, str, Any, Any]] = []
    for organization_id, (record, before, by) in matched.items():
        counts.matched += 1
        counts.matched_by_name += by == "name"
        merge = merge_record(before, record, said.get(organization_id))
        for c in merge.conflicts:
            conflicts.append(
                (
                    record.row,
                    organization_id,
                    c.field,
                    _masked(before, c.field, c.ledger_value),
                    _masked(before, c.field, c.incoming_value),
                )
            )
        counts.conflicts += bool(merge.conflicts)
        if merge.changes:
            after = replace(before, **merge.changes, version=before.version + 1, updated_at=now)
            changes.append((before, after, sorted(merge.changes)))
        else:
            counts.unchanged += 1
    counts.updated = len(changes)
    counts.new = len(fresh)
    registered = [organization for _, organization in fresh]
    await organizations.add_many(registered)
    await organizations.save_many([after for _, after, _ in changes])
    announce_registered(uow, registered, rules)
    announce_changed(uow, changes, rules)
    actor = Actor(job.actor, job.actor_region)
    trail = audit(uow)
    await trail.record_many(
        actor,
        "organization.imported",
        entity_type="organization",
        entries=[
            (
                o.id,
                o.region_code,
                {"import_id": job.id, "source": job.source, "row": r.row, "values": r.values},
            )
            for r, o in fresh
        ],
    )
    rows_of = {organization_id: m[0].row for organization_id, m in matched.items()}
    await trail.record_many(
        actor,
        "organization.updated_by_import",
        entity_type="organization",
        entries=[
            (
                after.id,
                after.region_code,
                {
                    "import_id": job.id,
                    "source": job.source,
                    "row": rows_of[after.id],
                    "changes": {name: getattr(after, name) for name in changed},
                },
            )
            for _, after, changed in changes
        ],
    )
    await repo.record_sources(
        [
            {
                "organization_id": o.id,
                "source": job.source,
                "values": r.values,
                "import_id": job.id,
                "row": r.row,
                "matched_by": "new",
                "said_at": now,
            }
            for r, o in fresh
        ]
        + [
            {
                "organization_id": organization_id,
                "source": job.source,
                "values": record.values,
                "import_id": job.id,
                "row": record.row,
                "matched_by": by,
                "said_at": now,
            }
            for organization_id, (record, _, by) in matched.items()
        ]
    )
    await repo.add_row_errors(job.id, [(e.row, e.field, e.reason) for e in errors])
    await repo.add_conflicts(job.id, conflicts)
    return counts


async def run_job(
    db: Database,
    job_id: str,
    owner: str,
    rules: Rules,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    lease: timedelta = timedelta(minutes=2),
    should_stop: Callable[[], bool] = lambda: False,
    max_chunks: int | None = None,
) -> str:
    """Process a job this worker has claimed; returns its status when this run ends."""
    async with db.read() as session:
        job = await ImportRepository(session).get_job(job_id)
    if job is None:
        return "missing"
    folder = Path(tempfile.mkdtemp(prefix="pb-import-"))
    try:
        path = await _materialise(db, job, folder)
        try:
            if job.rows_total is None:
                checked = await asyncio.to_thread(_check, path, job)
            reader = await asyncio.to_thread(_FileReader, path, job)
        except (SheetError, MissingColumns) as exc:
            return await _reject(db, job, owner, exc)
        if job.rows_total is None:
            async with db.unit_of_work() as uow:
                await ImportRepository(uow.session).update_job(
                    job.id,
                    owner,
                    rows_total=checked,
                    columns=_columns(reader.header),
                    lease_until=utcnow() + lease,
                )
        if job.rows_done:
            await asyncio.to_thread(reader.skip, job.rows_done)
        counts = ImportCounts(**job.counts)
        done = job.rows_done
        chunks = 0
        # The next batch is read and validated in a thread while this one is written.
        upcoming = asyncio.ensure_future(asyncio.to_thread(reader.take, chunk_rows))
        while True:
            if should_stop() or (max_chunks is not None and chunks >= max_chunks):
                await upcoming  # the reader's thread must not outlive the temporary file
                async with db.unit_of_work() as uow:  # let another worker (or a restart) resume
                    await ImportRepository(uow.session).update_job(
                        job.id, owner, lease_owner=None, lease_until=None
                    )
                return "running"
            batch = await upcoming
            if batch.consumed == 0:
                break
            upcoming = asyncio.ensure_future(asyncio.to_thread(reader.take, chunk_rows))
            async with db.unit_of_work() as uow:
                added = await _apply(uow, job, batch, rules)
                total = ImportCounts(**counts.as_dict())
                total.add(added)
                held = await ImportRepository(uow.session).update_job(
                    job.id,
                    owner,
                    rows_done=done + batch.consumed,
                    counts=total.as_dict(),
                    lease_until=utcnow() + lease,
                )
                if not held:
                    raise LeaseLost(job.id)
            counts, done, chunks = total, done + batch.consumed, chunks + 1
        async with db.unit_of_work() as uow:
            await ImportRepository(uow.session).update_job(
                job.id,
                owner,
                status="done",
                finished_at=utcnow(),
                lease_owner=None,
                lease_until=None,
            )
        log.info("import done", import_id=job.id, **counts.as_dict())
        return "done"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class LeaseLost(Exception):
    """Another worker took the job over (this one was too slow to renew its lease)."""


def _check(path: Path, job: ImportJob) -> int:
    """Read the whole file once before changing anything: a bad file is rejected whole."""
    return _FileReader(path, job).count()


def _columns(header: HeaderMap) -> dict[str, Any]:
    return {
        "used": {f: [i for i in p] for f, p in header.positions.items()},
        "dropped": list(header.dropped),
        "ignored": list(header.ignored),
    }


async def _reject(
    db: Database, job: ImportJob, owner: str, exc: SheetError | MissingColumns
) -> str:
    missing = exc.missing if isinstance(exc, MissingColumns) else None
    async with db.unit_of_work() as uow:
        await ImportRepository(uow.session).update_job(
            job.id,
            owner,
            status="rejected",
            reason=exc.reason,
            missing_columns=missing,
            finished_at=utcnow(),
            lease_owner=None,
            lease_until=None,
        )
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
        lease: timedelta = timedelta(minutes=2),
    ) -> None:
        self.db = db
        self.rules = rules
        self.chunk_rows = chunk_rows
        self.poll_seconds = poll_seconds
        self.lease = lease
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
        async with self.db.unit_of_work() as uow:
            repo = ImportRepository(uow.session)
            job_id = await repo.claimable_job(now)
            if job_id is None or not await repo.claim(job_id, self.owner, now, self.lease):
                return False
            job = await repo.get_job(job_id)
            assert job is not None
            if job.attempts > MAX_ATTEMPTS:
                await repo.update_job(
                    job_id,
                    self.owner,
                    status="failed",
                    reason=f"the import failed {MAX_ATTEMPTS} times; the service log has why",
                    finished_at=now,
                    lease_owner=None,
                    lease_until=None,
                )
                return True
        await run_job(
            self.db,
            job_id,
            self.owner,
            self.rules,
            chunk_rows=self.chunk_rows,
            lease=self.lease,
            should_stop=lambda: self._signal.is_set,
        )
        return True


def import_worker(runtime: Runtime) -> ImportWorker:
    """The worker factory `ServiceDefinition.workers` takes."""
    settings = runtime.settings
    assert isinstance(settings, RegistrySettings)
    return ImportWorker(runtime.db, settings.rules())


def worker_of(runtime: Runtime) -> ImportWorker | None:
    return next((w for w in runtime.workers if isinstance(w, ImportWorker)), None)
