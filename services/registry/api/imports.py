"""Bulk imports of organisations from the offices' sources (摸排比对), as jobs with reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from libs.common.http import sends
from libs.common.problems import PROBLEM_JSON, FieldError, HttpProblem
from libs.common.service import RuntimeDep
from services.registry.api.deps import Reader, ReadSession, SettingsDep, Writer, actor_of
from services.registry.domain.imports import ImportJob, SourceId
from services.registry.service import RegistryUnitOfWork
from services.registry.service import imports as service
from services.registry.workers import worker_of

router = APIRouter(prefix="/v1/imports", tags=["imports"])

#: Room for the multipart envelope around the file when judging a request by its length.
_ENVELOPE_BYTES = 64 * 1024


class FileTooLarge(HttpProblem):
    status = 413
    type = "file-too-large"
    title = "The file is too large"


class Progress(BaseModel):
    rows_total: int | None = Field(description="Data rows in the file, once it has been checked")
    rows_done: int
    percent: float


class Page(BaseModel):
    total: int
    offset: int
    items: list[dict[str, Any]]


class ImportOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "3e2d1c0b-9a8f-4e7d-b6c5-a4b3c2d1e0f9",
                    "source": "market_supervision",
                    "region_code": "140212",
                    "filename": "新荣区市场主体2026年11月.xlsx",
                    "size_bytes": 1843200,
                    "status": "running",
                    "created_at": "2026-11-30T02:00:00Z",
                    "started_at": "2026-11-30T02:00:01Z",
                    "finished_at": None,
                    "progress": {"rows_total": 12000, "rows_done": 4500, "percent": 37.5},
                    "counts": {"rows": 4500, "new": 120, "matched": 4300, "rejected": 80},
                    "reason": None,
                    "missing_columns": None,
                    "columns": None,
                }
            ]
        }
    )

    id: str
    source: str
    region_code: str
    filename: str
    size_bytes: int
    status: Literal["queued", "running", "done", "rejected", "failed"]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: Progress
    counts: dict[str, int] = Field(
        description="rows, new, matched, matched_by_name, updated, unchanged, conflicts, "
        "rejected, provisional (new files without a credit code), fields_left_out"
    )
    reason: str | None = Field(description="Why the whole file was rejected")
    missing_columns: list[str] | None
    columns: dict[str, Any] | None = Field(
        description="The header's row, columns used, dropped (personal data), ignored"
    )
    errors: Page | None = Field(default=None, description="Rejected rows: row, field, reason")
    left_out: Page | None = Field(
        default=None,
        description="Fields left out of rows that went in without them: row, field, reason",
    )
    conflicts: Page | None = Field(
        default=None, description="Fields where the source and the ledger disagree"
    )

    @classmethod
    def of(
        cls,
        job: ImportJob,
        report: service.ImportReport | None = None,
        *,
        errors_offset: int = 0,
        conflicts_offset: int = 0,
        left_out_offset: int = 0,
    ) -> ImportOut:
        total = job.rows_total
        percent = 100.0 if job.status == "done" else (job.rows_done * 100 / total if total else 0.0)
        out = cls(
            id=job.id,
            source=job.source,
            region_code=job.region_code,
            filename=job.filename,
            size_bytes=job.size_bytes,
            status=job.status,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            progress=Progress(rows_total=total, rows_done=job.rows_done, percent=round(percent, 1)),
            counts=job.counts,
            reason=job.reason,
            missing_columns=job.missing_columns,
            columns=job.columns,
        )
        if report is not None:
            out.errors = Page(total=report.errors_total, offset=errors_offset, items=report.errors)
            out.left_out = Page(
                total=report.left_out_total, offset=left_out_offset, items=report.left_out
            )
            out.conflicts = Page(
                total=report.conflicts_total, offset=conflicts_offset, items=report.conflicts
            )
        return out


def _too_large(limit: int) -> FileTooLarge:
    return FileTooLarge(
        f"the file is over the limit of {limit / 1e6:.1f} MB: split it into smaller files",
        errors=[FieldError("file", f"larger than {limit} bytes")],
        extra={"max_bytes": limit},
    )


def refuse_oversized(request: Request, limit: int) -> None:
    """413 for an upload whose declared length is over `limit` (and the multipart envelope):
    refused before a byte of it is read or spooled to disk."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + _ENVELOPE_BYTES:
        raise _too_large(limit)


#: The 413 an upload route documents.
TOO_LARGE_RESPONSE: dict[int | str, dict[str, Any]] = {
    413: {"description": "The file is over the size limit", "content": {PROBLEM_JSON: {}}}
}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ImportOut,
    summary="Import a file from a source (market supervision, civil affairs, tax, survey)",
    responses={
        202: sends(202, location=True)[202],
        200: {
            "description": "This file was imported before: the first job",
            "model": ImportOut,
            **sends(200, location=True)[200],
        },
        413: {"description": "The file is over the size limit", "content": {PROBLEM_JSON: {}}},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "source": {"type": "string", "enum": list(get_args(SourceId))},
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": "CSV (UTF-8 or GB18030) or XLSX with the "
                                "source's columns",
                            },
                        },
                        "required": ["source", "file"],
                    }
                }
            },
        }
    },
)
async def submit_import(
    request: Request,
    principal: Writer,
    settings: SettingsDep,
    runtime: RuntimeDep,
    response: Response,
    background: BackgroundTasks,
) -> ImportOut:
    limit = settings.import_max_bytes
    refuse_oversized(request, limit)
    # Starlette spools a file part to a temporary file past 1 MB: the upload never sits in memory.
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        source, file = service.check_submission(
            form.get("source"), upload if isinstance(upload, UploadFile) else None
        )
        if file.size is not None and file.size > limit:
            raise _too_large(limit)
        # The transaction starts once the upload is in: no writer lock while it arrives.
        async with RegistryUnitOfWork(runtime.db) as uow:
            job, created = await service.submit_import(
                uow,
                actor_of(principal),
                source=source,
                region_code=principal.region_code,
                filename=file.filename or "upload",
                file=file.file,
                limits=settings.sheet_limits(),
            )
    response.headers["Location"] = f"{router.prefix}/{job.id}"
    if created:
        worker = worker_of(runtime)
        if worker is not None and job.status == "queued":  # not a file refused on reading
            background.add_task(worker.wake)  # after the response: the job is committed by then
    else:
        response.status_code = status.HTTP_200_OK
    return ImportOut.of(job)


@router.get("/{import_id}", response_model=ImportOut, summary="An import's status and report")
async def read_import(
    import_id: str,
    principal: Reader,
    uow: ReadSession,
    errors_offset: int = Query(0, ge=0),
    conflicts_offset: int = Query(0, ge=0),
    left_out_offset: int = Query(0, ge=0),
    limit: int = Query(
        100, ge=1, le=1000, description="Rejected rows, fields left out and conflicts per page"
    ),
) -> ImportOut:
    report = await service.import_report(
        uow,
        import_id,
        errors_offset=errors_offset,
        conflicts_offset=conflicts_offset,
        left_out_offset=left_out_offset,
        limit=limit,
    )
    principal.ensure_visible(report.job.region_code, "import")
    return ImportOut.of(
        report.job,
        report,
        errors_offset=errors_offset,
        conflicts_offset=conflicts_offset,
        left_out_offset=left_out_offset,
    )
