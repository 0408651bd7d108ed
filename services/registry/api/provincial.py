"""HTTP routes for the provincial smart Party-building platform (省级智慧党建平台): the profile,
the bulk export of a region's ledger in it (JSON Lines and XLSX) for the first load, and the
reconciliation of the platform's own export with the ledger. See docs/integration.md."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile

from libs.common.http import subtree_of
from libs.common.problems import FieldError, InvalidInput
from libs.common.service import runtime_of
from libs.common.text import Text
from services.registry.api.deps import Reader, ReadSession, RulesDep, SettingsDep
from services.registry.api.imports import TOO_LARGE_RESPONSE, refuse_oversized
from services.registry.domain.provincial import LABELS, PROFILE, PROFILE_VERSION, Reconciliation
from services.registry.service import RegistryUnitOfWork
from services.registry.service import provincial as service
from services.registry.service.provincial_file import read_platform_file
from services.registry.service.provincial_workbook import XLSX_MEDIA_TYPE

router = APIRouter(prefix="/v1/provincial", tags=["provincial platform"])

JSONL_MEDIA_TYPE = "application/x-ndjson"
RegionQuery = Query(
    None, description="The subtree to export (a division code); the caller's region if left out"
)


class ProfileFieldOut(BaseModel):
    key: str
    heading: str = Field(description="The XLSX column heading (Chinese)")
    note: str
    compared: bool = Field(description="Compared by a reconciliation")
    labels: dict[str, str] | None = Field(
        None, description="The labels the XLSX shows for the field's values"
    )


class ProfileOut(BaseModel):
    version: int
    fields: list[ProfileFieldOut]


@router.get("/profile", response_model=ProfileOut, summary="The fields of the provincial profile")
async def read_profile(principal: Reader) -> ProfileOut:
    return ProfileOut(
        version=PROFILE_VERSION,
        fields=[
            ProfileFieldOut(
                key=f.key,
                heading=f.heading,
                note=f.note,
                compared=f.compared,
                labels={
                    json.dumps(k) if isinstance(k, bool) else str(k): v
                    for k, v in LABELS[f.key].items()
                }
                if f.key in LABELS
                else None,
            )
            for f in PROFILE
        ],
    )


def _disposition(stem: str, region_code: str, day: date, suffix: str) -> str:
    fallback = f"provincial-{region_code}-{day}.{suffix}"
    chinese = quote(f"{stem}-{region_code}-{day}.{suffix}", safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{chinese}"


@router.get(
    "/organizations.jsonl",
    response_class=StreamingResponse,
    summary="Every file of the region in the provincial profile, one JSON object per line",
    responses={200: {"content": {JSONL_MEDIA_TYPE: {}}}},
)
async def export_jsonl(
    request: Request,
    principal: Reader,
    settings: SettingsDep,
    rules: RulesDep,
    region_code: Text | None = RegionQuery,
) -> StreamingResponse:
    """Streamed as it is read (a page of 1,000 files at a time, on one read session of its own,
    so a province streams in constant memory); deregistered files included, `status` says so."""
    region = subtree_of(principal, region_code, field="region_code")
    today = settings.office_today()
    db = runtime_of(request).db

    async def lines() -> AsyncIterator[bytes]:
        async with RegistryUnitOfWork(db, readonly=True) as uow:
            async for page in service.record_pages(uow, region, today=today, rules=rules):
                yield b"".join(
                    json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
                    for r in page
                )

    return StreamingResponse(
        lines(),
        media_type=JSONL_MEDIA_TYPE,
        headers={"Content-Disposition": _disposition("两新组织信息", region, today, "jsonl")},
    )


@router.get(
    "/organizations.xlsx",
    response_class=FileResponse,
    summary="Every file of the region in the provincial profile as an XLSX workbook",
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}}},
)
async def export_xlsx(
    uow: ReadSession,
    principal: Reader,
    settings: SettingsDep,
    rules: RulesDep,
    region_code: Text | None = RegionQuery,
) -> FileResponse:
    region = subtree_of(principal, region_code, field="region_code")
    today = settings.office_today()
    path = await service.export_workbook(uow, region, today=today, rules=rules)
    return FileResponse(
        path,
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": _disposition("两新组织信息", region, today, "xlsx")},
        background=BackgroundTask(shutil.rmtree, path.parent, ignore_errors=True),
    )


class DifferenceOut(BaseModel):
    credit_code: str
    organization_id: str
    field: str
    ledger: str = Field(description="The ledger's value, normalised as compared")
    platform: str


class ReconciliationOut(BaseModel):
    region_code: str
    compared_on: date
    ledger_total: int = Field(description="Files of the region's ledger (deregistered included)")
    platform_total: int = Field(description="Records in the uploaded file")
    matched: int = Field(description="Records matched by credit code")
    same: int = Field(description="Matched records with no difference")
    differences_total: int
    differences: list[DifferenceOut] = Field(description="The first `max_items` differences")
    only_in_ledger_total: int
    only_in_ledger: list[dict[str, str]]
    only_in_platform_total: int
    only_in_platform: list[dict[str, Any]] = Field(
        description="Rows the region's ledger does not hold, with the file's row and why"
    )
    repeated_in_platform: list[dict[str, Any]] = Field(
        description="Rows whose credit code an earlier row of the file already had"
    )
    without_credit_code: int
    max_items: int

    @classmethod
    def of(cls, r: Reconciliation) -> ReconciliationOut:
        return cls(
            region_code=r.region_code,
            compared_on=r.on,
            ledger_total=r.ledger_total,
            platform_total=r.platform_total,
            matched=r.matched,
            same=r.same,
            differences_total=r.differences_total,
            differences=[DifferenceOut(**vars(d)) for d in r.differences],
            only_in_ledger_total=r.only_in_ledger_total,
            only_in_ledger=r.only_in_ledger,
            only_in_platform_total=r.only_in_platform_total,
            only_in_platform=r.only_in_platform,
            repeated_in_platform=r.repeated_in_platform,
            without_credit_code=r.without_credit_code,
            max_items=r.max_items,
        )


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The platform's export: XLSX or CSV with the "
                            "profile's headings, or JSON Lines (.jsonl) keyed as the profile",
                        }
                    },
                }
            }
        },
    }
}


@router.post(
    "/reconciliations",
    response_model=ReconciliationOut,
    summary="Compare a provincial platform's export with the region's ledger",
    openapi_extra=_UPLOAD_BODY,
    responses=TOO_LARGE_RESPONSE,
)
async def reconcile(
    request: Request,
    uow: ReadSession,
    principal: Reader,
    settings: SettingsDep,
    rules: RulesDep,
    region_code: Text | None = RegionQuery,
) -> ReconciliationOut:
    """Nothing is written: the report says which files the platform lacks, which of its records
    the ledger does not hold, and each field that differs."""
    region = subtree_of(principal, region_code, field="region_code")
    refuse_oversized(request, settings.import_max_bytes)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput(
            "upload the file as multipart/form-data", errors=[FieldError("file", "missing")]
        )
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InvalidInput("a file is required", errors=[FieldError("file", "missing")])
    with tempfile.TemporaryDirectory(prefix="pb-reconcile-") as folder:
        path = Path(folder) / "upload"
        with path.open("wb") as out:
            await run_in_threadpool(shutil.copyfileobj, upload.file, out)
        rows = await run_in_threadpool(
            read_platform_file, path, upload.filename, settings.sheet_limits()
        )
    report = await service.reconcile(
        uow,
        region,
        rows,
        today=settings.office_today(),
        rules=rules,
        max_items=settings.provincial_report_max_items,
    )
    return ReconciliationOut.of(report)
