"""Use cases of the provincial profile: the bulk export of a region's ledger (JSON Lines and
XLSX) for a platform's first load, and the reconciliation of a platform's export with the ledger.

Both read the ledger a page at a time in (region_code, id) order on one read session, so a
province of a million files streams in constant memory; the XLSX is written row by row to a
write-only workbook in a temporary folder the caller removes once it is sent."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterable
from datetime import date
from pathlib import Path
from typing import Any

from libs.common.divisions import name_of
from services.registry.domain.organizations import OrganizationFilter, Rules
from services.registry.domain.provincial import (
    PlatformRow,
    Reconciler,
    Reconciliation,
    record,
)
from services.registry.service.provincial_workbook import ProfileWorkbook
from services.registry.store.uow import RegistryUnitOfWork

#: Files read per query of the export.
EXPORT_PAGE = 1000


async def record_pages(
    uow: RegistryUnitOfWork, region_code: str, *, today: date, rules: Rules
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every file of the region's subtree, deregistered ones included (the platform must learn
    of them: 删除标识), as provincial records, a page at a time."""
    where = OrganizationFilter(region_code=region_code, status=None)
    after: tuple[str, str] | None = None
    while True:
        page = await uow.organizations.find(where, after=after, limit=EXPORT_PAGE)
        if not page:
            return
        around = await uow.provincial.surroundings(page, today)
        yield [
            record(
                o,
                around[o.id],
                today=today,
                standalone_min_full=rules.standalone_min_full_members,
                region_name=name_of(o.region_code) or "",
            )
            for o in page
        ]
        if len(page) < EXPORT_PAGE:
            return
        after = (page[-1].region_code, page[-1].id)


async def export_workbook(
    uow: RegistryUnitOfWork, region_code: str, *, today: date, rules: Rules
) -> Path:
    """The region's records as an XLSX workbook in a folder of its own (`path.parent`, which
    the caller removes once the file is sent)."""
    folder = Path(tempfile.mkdtemp(prefix="pb-provincial-"))
    path = folder / "provincial.xlsx"
    try:
        workbook = ProfileWorkbook(region_code, name_of(region_code) or "", today)
        async for page in record_pages(uow, region_code, today=today, rules=rules):
            await asyncio.to_thread(workbook.append, page)
        await asyncio.to_thread(workbook.save, path)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return path


async def reconcile(
    uow: RegistryUnitOfWork,
    region_code: str,
    platform: Iterable[PlatformRow],
    *,
    today: date,
    rules: Rules,
    max_items: int,
) -> Reconciliation:
    """What the platform's export holds against the region's ledger."""
    reconciler = Reconciler(region_code, today, platform, max_items)
    async for page in record_pages(uow, region_code, today=today, rules=rules):
        reconciler.add_ledger(page)
    return reconciler.finish()
