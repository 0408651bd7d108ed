"""A region's coverage rates, from its roll-ups, and their history from the daily snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from libs.common.tables import utcnow
from services.coverage.domain.facts import DEFAULT_ORGANIZATION_SCOPE, DEFAULT_WORK_SCOPE, Scope
from services.coverage.domain.rates import Area, Counts, Coverage, breakdown, history_period
from services.coverage.store.uow import CoverageUnitOfWork


@dataclass(frozen=True)
class Figures:
    """A region's rates as the API answers them."""

    region_code: str
    area_id: str
    as_of: datetime
    organization: Coverage
    standalone: Coverage
    work: Coverage
    breakdown: dict[str, dict[str, dict[str, dict[str, object]]]]


async def figures(
    uow: CoverageUnitOfWork,
    area: Area,
    organization_scope: Scope = DEFAULT_ORGANIZATION_SCOPE,
    work_scope: Scope = DEFAULT_WORK_SCOPE,
) -> Figures:
    """A region's figures, from its roll-up rows only (never from the organisations)."""
    rows, as_of = await uow.rollups.breakdown(area)
    total = Counts.total(row.counts.values for row in rows)
    return Figures(
        region_code=area[0],
        area_id=area[1],
        as_of=as_of or utcnow(),
        organization=total.coverage("organization", organization_scope),
        standalone=total.coverage("standalone", organization_scope),
        work=total.coverage("work", work_scope),
        breakdown=breakdown(rows, organization_scope, work_scope),
    )


@dataclass(frozen=True)
class DayFigures:
    """A region's rates on one day, as its snapshot stored them."""

    taken_on: date
    taken_at: datetime
    organization: Coverage
    standalone: Coverage
    work: Coverage


async def history(
    uow: CoverageUnitOfWork,
    area: Area,
    start: date | None,
    end: date | None,
    organization_scope: Scope = DEFAULT_ORGANIZATION_SCOPE,
    work_scope: Scope = DEFAULT_WORK_SCOPE,
) -> list[DayFigures]:
    """The region's rates on each day of the period that has a snapshot (see
    `history_period` for the days when none are named). Never recomputed: a past day's answer
    is the same every time it is asked."""
    start, end = history_period(start, end, date.today())
    return [
        DayFigures(
            taken_on=s.taken_on,
            taken_at=s.taken_at,
            organization=s.counts.coverage("organization", organization_scope),
            standalone=s.counts.coverage("standalone", organization_scope),
            work=s.counts.coverage("work", work_scope),
        )
        for s in await uow.rollups.history(area, start, end)
    ]
