"""The gap list (目标对象清单): a page of it, or all of it as an XLSX workbook."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.coverage.domain.gaps import Gap, GapFilter, gap_of
from services.coverage.service.export import GapWorkbook, ListTitle
from services.coverage.store.uow import CoverageUnitOfWork

EXPORT_CHUNK = 2_000  # rows per query while the workbook is written


@dataclass(frozen=True)
class GapLine:
    """One line of the gap list, with where the organisation is and what it was sorted by."""

    gap: Gap
    township_code: str
    size_band: str
    sort_value: Any


@dataclass(frozen=True)
class GapPage:
    total: int  # gaps matching the filter, over all pages
    lines: list[GapLine]


async def gap_page(
    uow: CoverageUnitOfWork,
    selection: GapFilter,
    *,
    sort: str,
    after: tuple[Any, str] | None,
    limit: int,
) -> GapPage:
    """The gaps after `after` (the sort value and organisation id of the previous page's last
    line), at most `limit` of them, with the count of all that match."""
    total = await uow.gaps.count(selection)
    rows = await uow.gaps.page(selection, sort=sort, after=after, limit=limit)
    metric, min_full = selection.metric, selection.min_full_members
    return GapPage(
        total,
        [
            GapLine(gap_of(r.facts, metric, min_full), r.township_code, r.size_band, r.sort_value)
            for r in rows
        ],
    )


async def export_gaps(uow: CoverageUnitOfWork, selection: GapFilter, *, sort: str) -> Path:
    """Every gap matching the filter (not paged), read in one streamed query and written chunk
    by chunk to a write-only workbook in a temporary folder of its own; the caller removes the
    folder (`path.parent`) once the file is sent."""
    folder = Path(tempfile.mkdtemp(prefix="pb-gaps-"))
    path = folder / "gaps.xlsx"
    metric, min_full = selection.metric, selection.min_full_members
    try:
        day = await uow.projection.projection_day(lock=False)
        title = ListTitle(selection.region_code, metric.value, selection.scope, day)
        workbook = GapWorkbook(min_full, title)
        async for rows in uow.gaps.chunks(selection, sort=sort, size=EXPORT_CHUNK):
            # openpyxl writes some 5,000 rows a second: off the event loop, chunk by chunk
            lines = [(gap_of(r.facts, metric, min_full), r.township_code) for r in rows]
            await asyncio.to_thread(workbook.append, lines)
        await asyncio.to_thread(workbook.save, path)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return path
