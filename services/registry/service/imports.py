"""Import jobs (摸排比对): accepting a file, each step of processing it, and its report.

The uploaded file is stored in the database in 1 MB pieces (`import_file_chunks`), so whichever
replica's worker takes the job can read it, and a job survives a restart. The worker
(`services/registry/workers.py`) drives a job through these use cases, one transaction each: it
claims the job under a lease, records the checked file's size and columns (or rejects the file
whole), imports one chunk of rows at a time with the job's progress, and finishes or releases
it. A chunk is planned by the domain (`plan_chunk`: matching, fills, conflicts, audit,
provenance) and persisted here with its events (outbox).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any, TypeVar

from libs.common.audit import Actor
from libs.common.logging import get_logger
from libs.common.tables import utcnow
from services.registry.domain.imports import (
    MAX_ATTEMPTS,
    SOURCES,
    HeaderMap,
    ImportCounts,
    ImportJob,
    ImportNotFound,
    InvalidSubmission,
    LeaseLost,
    RowBatch,
    plan_chunk,
)
from services.registry.domain.organizations import Rules
from services.registry.service.organizations import announce_changed, announce_registered
from services.registry.sheets import SheetError, sheet_kind
from services.registry.store.uow import RegistryUnitOfWork

log = get_logger(__name__)

FILE_CHUNK_BYTES = 1 << 20

F = TypeVar("F")


# -- accepting a file ----------------------------------------------------------------------------


def check_submission(source: object, file: F | None) -> tuple[str, F]:
    """The source and the file of a submission, or `InvalidSubmission` naming what is wrong."""
    fields: list[tuple[str, str]] = []
    if not isinstance(source, str) or source not in SOURCES:
        fields.append(("source", f"one of: {', '.join(SOURCES)}"))
    if file is None:
        fields.append(("file", "a file is required (multipart field 'file')"))
    if fields or file is None or not isinstance(source, str):
        raise InvalidSubmission(fields)
    return source, file


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
    uow: RegistryUnitOfWork,
    actor: Actor,
    *,
    source: str,
    region_code: str,
    filename: str,
    file: IO[bytes],
) -> tuple[ImportJob, bool]:
    """Store the file as a queued job, or return the job that already has this very file from
    this source for this region (True when the job is new). `file` is read in 1 MB pieces.

    Raises `SheetError` for a file of a type not accepted, or an empty one."""
    sheet_kind(filename)  # an unsupported type is refused now, not after the upload is stored
    content_hash, size = await asyncio.to_thread(_hash, file)
    if size == 0:
        raise SheetError("the file is empty")
    repo = uow.imports
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


# -- the report ----------------------------------------------------------------------------------


@dataclass
class ImportReport:
    job: ImportJob
    errors_total: int
    errors: list[dict[str, Any]]
    left_out_total: int
    left_out: list[dict[str, Any]]
    conflicts_total: int
    conflicts: list[dict[str, Any]]


async def import_report(
    uow: RegistryUnitOfWork,
    job_id: str,
    *,
    errors_offset: int,
    conflicts_offset: int,
    limit: int,
    left_out_offset: int = 0,
) -> ImportReport:
    """The job with a page of its rejected rows, of the fields it left out of rows that went in,
    and of its conflicts; `ImportNotFound` if none."""
    repo = uow.imports
    job = await repo.get_job(job_id)
    if job is None:
        raise ImportNotFound(job_id)
    errors_total, errors = await repo.row_errors(job_id, errors_offset, limit)
    left_out_total, left_out = await repo.row_errors(job_id, left_out_offset, limit, rejected=False)
    conflicts_total, conflicts = await repo.conflicts(job_id, conflicts_offset, limit)
    return ImportReport(
        job, errors_total, errors, left_out_total, left_out, conflicts_total, conflicts
    )


# -- processing a job: each step in the worker's transaction -------------------------------------


async def claim_job(
    uow: RegistryUnitOfWork, owner: str, now: datetime, lease: timedelta
) -> ImportJob | None:
    """The oldest job waiting (or whose worker died), claimed for `owner`; None if there is
    none or another worker claimed it first."""
    repo = uow.imports
    job_id = await repo.claimable_job(now)
    if job_id is None or not await repo.claim(job_id, owner, now, lease):
        return None
    return await repo.get_job(job_id)


async def give_up_if_exhausted(
    uow: RegistryUnitOfWork, job: ImportJob, owner: str, now: datetime
) -> bool:
    """Mark the job failed when it has been tried too often (True); it is not run again."""
    if job.attempts <= MAX_ATTEMPTS:
        return False
    await uow.imports.update_job(
        job.id,
        owner,
        status="failed",
        reason=f"the import failed {MAX_ATTEMPTS} times; the service log has why",
        finished_at=now,
        lease_owner=None,
        lease_until=None,
    )
    return True


async def get_job(uow: RegistryUnitOfWork, job_id: str) -> ImportJob | None:
    return await uow.imports.get_job(job_id)


async def file_piece(uow: RegistryUnitOfWork, job_id: str, seq: int) -> bytes | None:
    """Piece `seq` of the job's stored file (None past the last)."""
    return await uow.imports.file_chunk(job_id, seq)


async def record_checked(
    uow: RegistryUnitOfWork,
    job: ImportJob,
    owner: str,
    *,
    rows_total: int,
    header: HeaderMap,
    lease_until: datetime,
) -> None:
    """The whole file was read and is sound: its data rows and the columns used."""
    await uow.imports.update_job(
        job.id, owner, rows_total=rows_total, columns=header.report(), lease_until=lease_until
    )


async def import_chunk(
    uow: RegistryUnitOfWork, job: ImportJob, batch: RowBatch, rules: Rules
) -> ImportCounts:
    """One chunk of the job's rows: the organisations they may be are looked up (and locked) in
    bulk, the domain plans the chunk, and the plan is written. Returns what it counted."""
    repo = uow.imports
    by_code = await repo.organizations_by_credit_code(
        r.credit_code for r in batch.records if r.credit_code
    )
    by_name = await repo.organizations_by_name_key(
        (r.name_key for r in batch.records if r.credit_code not in by_code), job.region_code
    )
    found = [o.id for o in by_code.values()] + [o.id for os in by_name.values() for o in os]
    said_before = await repo.said_before(found, job.source)
    plan = plan_chunk(
        job, batch, by_code=by_code, by_name=by_name, said_before=said_before, now=utcnow()
    )
    await uow.organizations.add_many(plan.registered)
    await uow.organizations.save_many([after for _, after, _ in plan.changes])
    announce_registered(uow, plan.registered, rules)
    announce_changed(uow, plan.changes, rules)
    actor = Actor(job.actor, job.actor_region)
    for action, entries in plan.audit.items():
        await uow.audit.record_many(actor, action, entity_type="organization", entries=entries)
    await repo.record_sources(plan.provenance)
    await repo.add_row_errors(job.id, plan.errors)
    await repo.add_conflicts(job.id, plan.conflicts)
    return plan.counts


async def record_progress(
    uow: RegistryUnitOfWork,
    job: ImportJob,
    owner: str,
    *,
    rows_done: int,
    counts: ImportCounts,
    lease_until: datetime,
) -> None:
    """Where the job got to, with the chunk that got it there; `LeaseLost` if the job is no
    longer `owner`'s (the chunk is then rolled back with it)."""
    held = await uow.imports.update_job(
        job.id, owner, rows_done=rows_done, counts=counts.as_dict(), lease_until=lease_until
    )
    if not held:
        raise LeaseLost(job.id)


async def release_job(uow: RegistryUnitOfWork, job: ImportJob, owner: str) -> None:
    """Give the job's lease up unfinished: another worker (or a restart) resumes it."""
    await uow.imports.update_job(job.id, owner, lease_owner=None, lease_until=None)


async def finish_job(uow: RegistryUnitOfWork, job: ImportJob, owner: str) -> None:
    await uow.imports.update_job(
        job.id, owner, status="done", finished_at=utcnow(), lease_owner=None, lease_until=None
    )


async def reject_job(
    uow: RegistryUnitOfWork,
    job: ImportJob,
    owner: str,
    reason: str,
    missing_columns: list[str] | None = None,
) -> None:
    """The file cannot be imported at all: nothing in it changed the ledger."""
    await uow.imports.update_job(
        job.id,
        owner,
        status="rejected",
        reason=reason,
        missing_columns=missing_columns,
        finished_at=utcnow(),
        lease_owner=None,
        lease_until=None,
    )
