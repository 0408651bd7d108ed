"""A region's coverage rates, from its roll-ups, and their history from the daily snapshots."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Generic, TypeVar

from libs.common.calendar import local_today
from libs.common.tables import utcnow
from services.coverage.domain.facts import DEFAULT_ORGANIZATION_SCOPE, DEFAULT_WORK_SCOPE, Scope
from services.coverage.domain.new_employment import NewEmploymentFigures
from services.coverage.domain.rates import (
    Area,
    Counts,
    Coverage,
    DayNotKept,
    SubregionFigures,
    breakdown,
    history_period,
    sorted_subregions,
)
from services.coverage.domain.rollups import regions_of
from services.coverage.store.rollups import RegionRead, RegionVersion
from services.coverage.store.uow import CoverageUnitOfWork


@dataclass(frozen=True)
class Figures:
    """A region's rates as the API answers them."""

    region_code: str
    area_id: str
    day: date  # the day the figures are as of
    as_of: datetime  # when they last changed (a snapshot: when it was taken)
    organization: Coverage
    standalone: Coverage
    work: Coverage
    temporary: Coverage
    effective: Coverage | None  # None: a snapshot from before it was counted
    breakdown: dict[str, dict[str, dict[str, dict[str, object]]]]
    snapshot: bool = False
    #: The region's new employment groups on `day` (live figures only; a snapshot keeps none).
    new_employment: NewEmploymentFigures | None = None


_Key = tuple[Area, Scope, Scope]


K = TypeVar("K")
V = TypeVar("V")


class Recent(Generic[K, V]):
    """The values put lately, by key: bounded, least recently used first out. One per process,
    shared by its requests (`FiguresCache`, and the API's rendered answers)."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._kept: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        kept = self._kept.get(key)
        if kept is not None:
            self._kept.move_to_end(key)
        return kept

    def put(self, key: K, value: V) -> None:
        self._kept[key] = value
        self._kept.move_to_end(key)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)

    def clear(self) -> None:
        self._kept.clear()


class FiguresCache:
    """The live figures of the regions read lately, each kept with the version of the region it
    was computed from (`RegionRead.version`: the day, when the region's roll-up rows last
    changed and the rows themselves): served again while a read of the store finds the same,
    recomputed as soon as it differs. Bounded, least recently used first out; one per process
    (the API's), shared by its requests."""

    def __init__(self, size: int = 2048) -> None:
        self._recent: Recent[_Key, tuple[RegionVersion, Figures]] = Recent(size)

    def get(self, key: _Key, read: RegionRead) -> Figures | None:
        kept = self._recent.get(key)
        return kept[1] if kept is not None and kept[0] == read.version else None

    def put(self, key: _Key, read: RegionRead, figures: Figures) -> None:
        self._recent.put(key, (read.version, figures))

    def clear(self) -> None:
        self._recent.clear()


#: The API process's figures, by region and scopes (see `FiguresCache`).
cache = FiguresCache()


async def figures(
    uow: CoverageUnitOfWork,
    area: Area,
    organization_scope: Scope = DEFAULT_ORGANIZATION_SCOPE,
    work_scope: Scope = DEFAULT_WORK_SCOPE,
    on: date | None = None,
) -> Figures:
    """A region's figures as of the projection's day, from its roll-up rows only (never from
    the organisations), with its new employment groups, all read from one snapshot in one step
    and kept in `cache` while the region's rows and the day stay the same; as of another day
    `on`, the snapshot stored that day (no breakdown is kept in snapshots), or DayNotKept when
    there is none."""
    read = await uow.rollups.live(area, local_today())
    today = read.day or local_today()
    if on is None or on == today:
        key = (area, organization_scope, work_scope)
        groups = NewEmploymentFigures(today, *read.new_employment)
        found = cache.get(key, read)
        if found is None:
            found = _live(read, area, today, organization_scope, work_scope, groups)
            if read.rows:  # an empty region's as_of is the moment asked
                cache.put(key, read, found)
        elif found.new_employment != groups:
            found = dataclasses.replace(found, new_employment=groups)
            cache.put(key, read, found)
        return found
    kept = await uow.rollups.history(area, on, on)
    if not kept:
        raise DayNotKept(on, today)
    figures = _figures(
        area,
        on,
        kept[0].taken_at,
        kept[0].counts,
        {},
        organization_scope,
        work_scope,
        snapshot=True,
    )
    return dataclasses.replace(figures, effective=kept[0].effective(organization_scope))


def _live(
    read: RegionRead,
    area: Area,
    today: date,
    organization_scope: Scope,
    work_scope: Scope,
    groups: NewEmploymentFigures,
) -> Figures:
    rows = read.breakdown()
    total = Counts.total(row.counts.values for row in rows)
    return _figures(
        area,
        today,
        read.as_of or utcnow(),
        total,
        breakdown(rows, organization_scope, work_scope),
        organization_scope,
        work_scope,
        new_employment=groups,
    )


def _figures(
    area: Area,
    day: date,
    as_of: datetime,
    total: Counts,
    by: dict[str, dict[str, dict[str, dict[str, object]]]],
    organization_scope: Scope,
    work_scope: Scope,
    *,
    snapshot: bool = False,
    new_employment: NewEmploymentFigures | None = None,
) -> Figures:
    return Figures(
        region_code=area[0],
        area_id=area[1],
        day=day,
        as_of=as_of,
        organization=total.coverage("organization", organization_scope),
        standalone=total.coverage("standalone", organization_scope),
        work=total.coverage("work", work_scope),
        temporary=total.temporary(organization_scope),
        effective=total.effective(organization_scope),
        breakdown=by,
        snapshot=snapshot,
        new_employment=new_employment,
    )


@dataclass(frozen=True)
class DayFigures:
    """A region's rates on one day, as its snapshot stored them."""

    taken_on: date
    taken_at: datetime
    organization: Coverage
    standalone: Coverage
    work: Coverage
    temporary: Coverage
    effective: Coverage | None  # None: taken before effective coverage was counted


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
            temporary=s.counts.temporary(organization_scope),
            effective=s.effective(organization_scope),
        )
        for s in await uow.rollups.history(area, start, end)
    ]


async def subregions(
    uow: CoverageUnitOfWork,
    region_code: str,
    organization_scope: Scope = DEFAULT_ORGANIZATION_SCOPE,
    work_scope: Scope = DEFAULT_WORK_SCOPE,
    sort: str = "region_code",
) -> list[SubregionFigures]:
    """The figures of each region one level below (a county's townships), sorted, from the
    roll-ups in one query."""
    found = await uow.rollups.subregion_totals(region_code)
    rows = [
        SubregionFigures(
            region_code=code,
            organization=counts.coverage("organization", organization_scope),
            standalone=counts.coverage("standalone", organization_scope),
            work=counts.coverage("work", work_scope),
            temporary=counts.temporary(organization_scope),
            effective=counts.effective(organization_scope),
        )
        for code, counts in found.items()
        if len(regions_of(code)) >= 2 and regions_of(code)[-2] == region_code
    ]
    return sorted_subregions(rows, sort)
