"""Import jobs (摸排比对): accepting a file, each step of processing it, and its report.

An upload is read once as it arrives (`store_rows`, in a thread): the header is found, and
only the columns the import reads are kept, every ID number and phone in them masked; the rest
of the file (法人身份证, 联系电话, 备注 ...) is never stored. The kept rows go to the database as
JSON lines in 1 MB pieces (`import_file_chunks`), so whichever replica's worker takes the job
can read them and a job survives a restart; they are deleted with the transaction that finishes
the job (a failed job's are kept `import_file_retention_hours` for a re-run, then purged). A
file that cannot be read is a job rejected at once, nothing of it stored.

The worker (`services/registry/workers.py`) drives a job through these use cases, one
transaction each: it claims the job under a lease (renewed by a heartbeat while it works),
imports one chunk of rows at a time with the job's progress, and finishes or releases it. A
chunk is planned by the domain (`plan_chunk`: matching, fills, conflicts, audit, provenance) and
persisted here with its events (outbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

from libs.common.audit import Actor
from libs.common.ids import new_id
from libs.common.json_text import json_dumps
from libs.common.logging import get_logger
from libs.common.tables import utcnow
from services.registry.domain.imports import (
    AUDIT_ENTITY_TYPES,
    HEADER_SCAN_ROWS,
    MAX_ATTEMPTS,
    SOURCES,
    ChunkPlan,
    HeaderMap,
    ImportCounts,
    ImportJob,
    ImportNotFound,
    InvalidSubmission,
    LeaseLost,
    MissingColumns,
    RowBatch,
    locate_header,
    plan_chunk,
    stored_cells,
)
from services.registry.domain.organizations import Rules
from services.registry.file_forms import draft_of
from services.registry.service.organizations import announce_imported
from services.registry.sheets import SheetError, SheetLimits, iter_rows, sheet_kind
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


#: The format of a stored file's first line (JSON lines: the fields' columns, then the rows).
STORED_ROWS = "rows"


@dataclass
class StoredRows:
    """An upload as the job keeps it: its kept rows in `path` (JSON lines), or why it is refused
    (`refusal`: nothing of it is stored)."""

    path: Path
    content_hash: str
    size: int
    rows_total: int | None = None
    header: HeaderMap | None = None
    refusal: SheetError | MissingColumns | None = None


def _copy(file: IO[bytes], path: Path) -> tuple[str, int]:
    """The upload written to `path`, with its sha256 and size."""
    file.seek(0)
    digest = hashlib.sha256()
    size = 0
    with path.open("wb") as out:
        while block := file.read(FILE_CHUNK_BYTES):
            digest.update(block)
            out.write(block)
            size += len(block)
    return digest.hexdigest(), size


def read_sheet(
    path: Path, filename: str, source: str, limits: SheetLimits | None = None
) -> tuple[HeaderMap, Iterator[tuple[int, list[str]]]]:
    """The file's header (which may stand below title rows) and its rows after it, read
    within `limits` (the registry's file limits)."""
    rows = iter_rows(path, filename, limits=limits)
    read: list[tuple[int, list[str]]] = []  # while looking for the header
    top: list[tuple[int, list[str]]] = []  # the non-blank rows it may be among
    for number, cells in rows:
        read.append((number, cells))
        if cells:
            top.append((number, cells))
            if len(top) == HEADER_SCAN_ROWS:
                break
    if not top:
        raise SheetError("the file is empty: it has no header row and no data")
    at, header = locate_header(SOURCES[source], top)
    # The rows after the header: those read while looking for it, then the rest of the file.
    return header, itertools.chain(((n, c) for n, c in read if n > at), rows)


def write_rows(
    path: Path, filename: str, source: str, out: Path, limits: SheetLimits | None = None
) -> tuple[HeaderMap, int]:
    """Read the sheet at `path` whole and write what a job keeps of it to `out`: a first line
    naming where each field is, then `[row number, cells]` per row after the header (a blank
    row as `[n, []]`), only the kept columns, ID numbers and phones masked. Returns the header
    and the number of rows. Raises `SheetError` or `MissingColumns`."""
    header, rows = read_sheet(path, filename, source, limits)
    total = 0
    with out.open("w", encoding="utf-8") as stored:
        stored.write(json.dumps({"format": STORED_ROWS, "fields": header.over_kept()}) + "\n")
        for number, cells in rows:
            kept = stored_cells(header, cells) if cells else []
            stored.write(json_dumps([number, kept]) + "\n")
            total += 1
    return header, total


def store_rows(
    file: IO[bytes],
    filename: str,
    source: str,
    folder: Path,
    limits: SheetLimits | None = None,
) -> StoredRows:
    """An upload read into what its job keeps (blocking: run it in a thread)."""
    raw = folder / ("upload" + Path(filename).suffix.lower())
    content_hash, size = _copy(file, raw)
    out = StoredRows(folder / "rows.jsonl", content_hash, size)
    if size == 0:
        raise SheetError("the file is empty")
    try:
        out.header, out.rows_total = write_rows(raw, filename, source, out.path, limits)
    except (SheetError, MissingColumns) as exc:
        out.refusal = exc
    finally:
        raw.unlink()  # the file as uploaded is gone as soon as it is read
    return out


async def submit_import(
    uow: RegistryUnitOfWork,
    actor: Actor,
    *,
    source: str,
    region_code: str,
    filename: str,
    file: IO[bytes],
    limits: SheetLimits | None = None,
) -> tuple[ImportJob, bool]:
    """Store what a job keeps of the file (see `store_rows`) as a queued job, or return the job
    that already has this very file from this source for this region (True when the job is
    new). A file that cannot be read is a job rejected at once, nothing of it stored.

    The file is read in a thread before the transaction's first statement (no writer lock is
    held while it is read). Raises `SheetError` for a file of a type not accepted, or an empty
    one."""
    sheet_kind(filename)  # an unsupported type is refused now, not after the upload is read
    folder = Path(tempfile.mkdtemp(prefix="pb-upload-"))
    try:
        kept = await asyncio.to_thread(store_rows, file, filename, source, folder, limits)
        return await _add_job(uow, actor, source, region_code, filename, kept)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _add_job(
    uow: RegistryUnitOfWork,
    actor: Actor,
    source: str,
    region_code: str,
    filename: str,
    kept: StoredRows,
) -> tuple[ImportJob, bool]:
    repo = uow.imports
    existing = await repo.find_job(source, region_code, kept.content_hash)
    if existing is not None:
        return existing, False
    now = utcnow()
    job_id = new_id()
    refusal = kept.refusal
    created = await repo.create_job(
        {
            "id": job_id,
            "source": source,
            "region_code": region_code,
            "filename": filename[:255],
            "content_hash": kept.content_hash,
            "size_bytes": kept.size,
            "status": "queued" if refusal is None else "rejected",
            "actor": actor.subject,
            "actor_region": actor.region_code,
            "rows_total": kept.rows_total,
            "rows_done": 0,
            "counts": ImportCounts().as_dict(),
            "columns": kept.header.report() if kept.header is not None else None,
            "reason": refusal.reason if refusal is not None else None,
            "missing_columns": refusal.missing if isinstance(refusal, MissingColumns) else None,
            "attempts": 0,
            "stored_as": STORED_ROWS,
            "created_at": now,
            "finished_at": now if refusal is not None else None,
            "updated_at": now,
        }
    )
    if not created:  # the same file arrived concurrently: the other request's job stands
        raced = await repo.find_job(source, region_code, kept.content_hash)
        assert raced is not None
        return raced, False
    if refusal is None:
        await _store_file(uow, job_id, kept.path)
    job = await repo.get_job(job_id)
    assert job is not None
    if refusal is None:
        log.info("import queued", import_id=job_id, source=source, size_bytes=kept.size)
    else:
        log.info("import rejected", import_id=job_id, reason=refusal.reason)
    return job, True


async def _store_file(uow: RegistryUnitOfWork, job_id: str, path: Path) -> None:
    with path.open("rb") as stored:
        seq = 0
        while block := await asyncio.to_thread(stored.read, FILE_CHUNK_BYTES):
            await uow.imports.add_file_chunks(job_id, [(seq, block)])
            seq += 1


async def restore_as_rows(
    uow: RegistryUnitOfWork, job: ImportJob, owner: str, kept: StoredRows
) -> bool:
    """A job stored as uploaded (before 0010) now stored as its kept rows, checked (rows and
    columns recorded), in one transaction; False if the job is no longer `owner`'s."""
    held = await uow.imports.update_job(
        job.id,
        owner,
        stored_as=STORED_ROWS,
        rows_total=kept.rows_total,
        columns=kept.header.report() if kept.header is not None else None,
    )
    if held:
        await uow.imports.delete_file(job.id)
        await _store_file(uow, job.id, kept.path)
    return held


# -- the report ----------------------------------------------------------------------------------


@dataclass
class ImportReport:
    job: ImportJob
    errors: ReportRows
    left_out: ReportRows
    conflicts: ReportRows


@dataclass(frozen=True)
class ReportRows:
    """How many lines one list of a report has, and a page of them, each with its id."""

    total: int
    lines: list[tuple[int, dict[str, Any]]]


#: The lists of an import's report: rejected rows, fields left out, conflicts.
ReportList = Literal["errors", "left_out", "conflicts"]


async def report_rows(
    uow: RegistryUnitOfWork, job_id: str, which: ReportList, after_id: int | None, limit: int
) -> ReportRows:
    """A page of one list of a job's report, in order after `after_id`."""
    repo = uow.imports
    if which == "conflicts":
        total, lines = await repo.conflicts(job_id, after_id, limit)
    else:
        total, lines = await repo.row_errors(job_id, after_id, limit, rejected=which == "errors")
    return ReportRows(total, lines)


async def list_imports(
    uow: RegistryUnitOfWork,
    region_code: str,
    *,
    status: str | None,
    source: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[ImportJob]:
    """A page of the import jobs of a region's subtree, newest first."""
    return await uow.imports.find_jobs(
        region_code, status=status, source=source, after=after, limit=limit
    )


async def get_import(uow: RegistryUnitOfWork, job_id: str) -> ImportJob:
    """The job; `ImportNotFound` if none."""
    job = await uow.imports.get_job(job_id)
    if job is None:
        raise ImportNotFound(job_id)
    return job


async def import_report(uow: RegistryUnitOfWork, job_id: str, *, limit: int) -> ImportReport:
    """The job with the first page of its rejected rows, of the fields it left out of rows that
    went in, and of its conflicts; `ImportNotFound` if none."""
    job = await get_import(uow, job_id)
    return ImportReport(
        job,
        await report_rows(uow, job_id, "errors", None, limit),
        await report_rows(uow, job_id, "left_out", None, limit),
        await report_rows(uow, job_id, "conflicts", None, limit),
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


async def import_chunk(
    uow: RegistryUnitOfWork, job: ImportJob, batch: RowBatch, rules: Rules
) -> ImportCounts:
    """One chunk of the job's rows: planned (`plan_import`) and written (`write_import`).
    Returns what it counted."""
    return await write_import(uow, job, await plan_import(uow, job, batch), rules)


async def plan_import(uow: RegistryUnitOfWork, job: ImportJob, batch: RowBatch) -> ChunkPlan:
    """What a chunk of the job's rows does: the organisations they may be are looked up (and
    locked) in bulk and the domain plans the chunk. Nothing is written yet."""
    repo = uow.imports
    by_code = await repo.organizations_by_credit_code(
        r.credit_code for r in batch.records if r.credit_code
    )
    by_name = await repo.organizations_by_name_key(
        (r.name_key for r in batch.records if r.credit_code not in by_code), job.region_code
    )
    found = [o.id for o in by_code.values()] + [o.id for os in by_name.values() for o in os]
    said_before = await repo.said_before(found, job.source)
    return plan_chunk(
        job, batch, by_code=by_code, by_name=by_name, said_before=said_before, now=utcnow()
    )


async def write_import(
    uow: RegistryUnitOfWork, job: ImportJob, plan: ChunkPlan, rules: Rules
) -> ImportCounts:
    """A chunk's plan written in the unit of work, with its events and audit entries. Returns
    what it counted."""
    repo = uow.imports
    # The new files as drafted where their rows were read (any record not drafted there, now).
    eligible_at = rules.standalone_min_full_members
    drafts = [
        new.record.draft or draft_of(new.organization(), eligible_at) for new in plan.registered
    ]

    async def write_files() -> None:
        await uow.organizations.save_changed([(a, changed) for _, a, changed in plan.changes])
        await uow.organizations.add_rows([d.row for d in drafts])

    # The files go to the database while their events and audit entries are made here (both
    # wait for the commit: nothing of the session is used meanwhile), so that the server's
    # work and the job's overlap.
    writing = asyncio.ensure_future(write_files())
    try:
        await asyncio.sleep(0)  # the first statement on its way
        announce_imported(uow, job.id, drafts, plan.changes, rules)
        _audit(uow, job, plan)
    except BaseException:
        with contextlib.suppress(BaseException):
            await writing
        raise
    await writing
    await repo.record_sources(plan.provenance)
    await repo.add_row_errors(job.id, plan.errors)
    await repo.add_conflicts(job.id, plan.conflicts)
    return plan.counts


def _audit(uow: RegistryUnitOfWork, job: ImportJob, plan: ChunkPlan) -> None:
    """The chunk's audit entries, written at commit (`UnitOfWork.insert_at_commit`)."""
    actor = Actor(job.actor, job.actor_region)
    for action, entries in plan.audit.items():
        uow.audit.record_at_commit(
            actor, action, entity_type=AUDIT_ENTITY_TYPES[action], entries=entries
        )


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
    """The job is done: its stored file goes in the same transaction."""
    if await uow.imports.update_job(
        job.id, owner, status="done", finished_at=utcnow(), lease_owner=None, lease_until=None
    ):
        await uow.imports.delete_file(job.id)


async def renew_lease(uow: RegistryUnitOfWork, job: ImportJob, owner: str, until: datetime) -> bool:
    """The worker still works on the job (its heartbeat); False when it is no longer its own."""
    return await uow.imports.renew_lease(job.id, owner, until)


async def purge_files(uow: RegistryUnitOfWork, retention: timedelta) -> int:
    """Delete the stored files of jobs that failed or were rejected more than `retention` ago
    (and of any done job); returns how many pieces went."""
    return await uow.imports.purge_files(utcnow() - retention)


async def reject_job(
    uow: RegistryUnitOfWork,
    job: ImportJob,
    owner: str,
    reason: str,
    missing_columns: list[str] | None = None,
) -> None:
    """The file cannot be imported at all: nothing in it changed the ledger, and it is never
    run again, so its stored file goes at once."""
    if await uow.imports.update_job(
        job.id,
        owner,
        status="rejected",
        reason=reason,
        missing_columns=missing_columns,
        finished_at=utcnow(),
        lease_owner=None,
        lease_until=None,
    ):
        await uow.imports.delete_file(job.id)
