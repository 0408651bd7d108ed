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

from libs.common.db import Database
from libs.common.divisions import name_of
from libs.common.events import Envelope
from libs.common.webhooks.delivery import PayloadBuilder
from services.registry.domain.branches import within
from services.registry.domain.organizations import Organization, OrganizationFilter, Rules
from services.registry.domain.provincial import (
    PROFILE_VERSION,
    PlatformRow,
    Reconciler,
    Reconciliation,
    Surroundings,
    record,
)
from services.registry.service.provincial_workbook import ProfileWorkbook
from services.registry.settings import RegistrySettings
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
        yield [_record(o, around[o.id], today, rules) for o in page]
        if len(page) < EXPORT_PAGE:
            return
        after = (page[-1].region_code, page[-1].id)


def _record(
    organization: Organization, around: Surroundings, today: date, rules: Rules
) -> dict[str, Any]:
    return record(
        organization,
        around,
        today=today,
        standalone_min_full=rules.standalone_min_full_members,
        region_name=name_of(organization.region_code) or "",
    )


def named_organizations(data: dict[str, Any]) -> list[str]:
    """The ids of the organisations an event's data names: its `organization_id`, its
    `organization_ids`, and those of the files in its `registered` and `updated` lists."""
    named = data.get("organization_ids")
    ids = [i for i in named if isinstance(i, str)] if isinstance(named, list) else []
    if isinstance(data.get("organization_id"), str):
        ids.append(data["organization_id"])
    for part in ("registered", "updated"):
        files = data.get(part)
        if isinstance(files, list):
            ids += [
                f["organization_id"]
                for f in files
                if isinstance(f, dict) and isinstance(f.get("organization_id"), str)
            ]
    return ids


def profile_payload(settings: RegistrySettings) -> PayloadBuilder:
    """The webhook payload `provincial_profile`: for an event naming organisations
    (`organization_id`, `organization_ids` as a branch's events do, or the files an
    `organization.imported` carries), their provincial records as they stand when the event is
    delivered, those outside the subscription's region left out; None (not sent) for an event
    naming none."""
    rules = settings.rules()

    async def build(
        db: Database, envelope: Envelope, data: dict[str, Any], region_code: str | None
    ) -> dict[str, Any] | None:
        ids = named_organizations(data)
        if not ids:
            return None
        today = settings.office_today()
        async with RegistryUnitOfWork(db, readonly=True) as uow:
            found = await uow.organizations.get_many(ids)
            page = [
                o
                for o in found.values()
                if region_code is None or within(o.region_code, region_code)
            ]
            if not page:
                return None
            around = await uow.provincial.surroundings(page, today)
        return {
            "profile_version": PROFILE_VERSION,
            "event_type": envelope.type,
            "records": [_record(o, around[o.id], today, rules) for o in page],
        }

    return build


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
