"""Bulk imports of organisations from the offices' sources (摸排比对), as jobs with reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from libs.common.auth import Principal
from libs.common.http import RegionCodeQuery, sends, subtree_of
from libs.common.pagination import DEFAULT_LIMIT, Page, Pages, Paging, first_page
from libs.common.problems import PROBLEM_JSON, FieldError, HttpProblem
from libs.common.service import RuntimeDep
from libs.common.text import Text
from services.registry.api.deps import Reader, ReadSession, SettingsDep, Writer, actor_of
from services.registry.domain.imports import ImportJob, JobStatus, SourceId
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


class ReportPage(Page[dict[str, Any]]):
    """A page of one list of an import's report."""

    total: int = Field(description="Lines in the list, over all pages")

    @classmethod
    def of_rows(cls, pages: Paging, rows: service.ReportRows) -> ReportPage:
        return cls.of(
            pages,
            rows.lines,
            key=lambda line: (line[0],),
            item=lambda line: line[1],
            total=rows.total,
        )


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
    errors: ReportPage | None = Field(
        default=None,
        description="Rejected rows (row, field, reason): the first page; `next` continues it "
        "at `GET /v1/imports/{id}/errors`",
    )
    left_out: ReportPage | None = Field(
        default=None,
        description="Fields left out of rows that went in without them (row, field, reason): "
        "the first page; `next` continues it at `GET /v1/imports/{id}/left-out`",
    )
    conflicts: ReportPage | None = Field(
        default=None,
        description="Fields where the source and the ledger disagree: the first page; `next` "
        "continues it at `GET /v1/imports/{id}/conflicts`",
    )

    @classmethod
    def of(
        cls, job: ImportJob, report: service.ImportReport | None = None, *, limit: int = 100
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
            path = f"{router.prefix}/{job.id}"
            out.errors = ReportPage.of_rows(first_page(f"{path}/errors", limit), report.errors)
            out.left_out = ReportPage.of_rows(
                first_page(f"{path}/left-out", limit), report.left_out
            )
            out.conflicts = ReportPage.of_rows(
                first_page(f"{path}/conflicts", limit), report.conflicts
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


class ImportPage(Page[ImportOut]):
    pass


@router.get(
    "",
    response_model=ImportPage,
    summary="The imports of a region subtree, newest first (status and counts; no report)",
)
async def list_imports(
    principal: Reader,
    uow: ReadSession,
    pages: Pages,
    region_code: RegionCodeQuery = None,
    job_status: Annotated[JobStatus | None, Query(alias="status")] = None,
    source: SourceId | None = None,
) -> ImportPage:
    """Each job as `GET /v1/imports/{id}` shows it, without the report's lists."""
    after = pages.after(datetime, str)
    found = await service.list_imports(
        uow,
        subtree_of(principal, region_code),
        status=job_status,
        source=source,
        after=None if after is None else (after[0], after[1]),
        limit=pages.fetch,
    )
    return ImportPage.of(pages, found, key=lambda j: (j.created_at, j.id), item=ImportOut.of)


@router.get("/{import_id}", response_model=ImportOut, summary="An import's status and report")
async def read_import(import_id: Text, principal: Reader, uow: ReadSession) -> ImportOut:
    """The job, its progress and counts, and the first page (100 lines) of each list of its
    report; each list's `next` continues it."""
    report = await service.import_report(uow, import_id, limit=DEFAULT_LIMIT + 1)
    principal.ensure_visible(report.job.region_code, "import")
    return ImportOut.of(report.job, report, limit=DEFAULT_LIMIT)


async def _report_page(
    uow: RegistryUnitOfWork,
    principal: Principal,
    import_id: str,
    which: service.ReportList,
    pages: Paging,
) -> ReportPage:
    job = await service.get_import(uow, import_id)
    principal.ensure_visible(job.region_code, "import")
    after = pages.after(int)
    rows = await service.report_rows(
        uow, import_id, which, None if after is None else after[0], pages.fetch
    )
    return ReportPage.of_rows(pages, rows)


@router.get(
    "/{import_id}/errors",
    response_model=ReportPage,
    summary="An import's rejected rows (row, field, reason), in file order",
)
async def list_import_errors(
    import_id: Text, principal: Reader, uow: ReadSession, pages: Pages
) -> ReportPage:
    return await _report_page(uow, principal, import_id, "errors", pages)


@router.get(
    "/{import_id}/left-out",
    response_model=ReportPage,
    summary="The fields an import left out of rows that went in without them, in file order",
)
async def list_import_left_out(
    import_id: Text, principal: Reader, uow: ReadSession, pages: Pages
) -> ReportPage:
    return await _report_page(uow, principal, import_id, "left_out", pages)


@router.get(
    "/{import_id}/conflicts",
    response_model=ReportPage,
    summary="Where an import's source and the ledger disagree (row, organization_id, field, "
    "ledger_value, incoming_value), in file order",
)
async def list_import_conflicts(
    import_id: Text, principal: Reader, uow: ReadSession, pages: Pages
) -> ReportPage:
    return await _report_page(uow, principal, import_id, "conflicts", pages)
