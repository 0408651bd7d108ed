"""SQL that reads the roll-ups: a region's figures, daily snapshots, changes pending; and adds
them up afresh from the organisations' facts (a rebuild)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    select,
    true,
)

from libs.common.db import Repository, one_of, starting_with
from libs.common.tables import UTCDateTime, utcnow
from services.coverage.domain.facts import CoverageFacts
from services.coverage.domain.rates import Area, BreakdownRow, Counts, Snapshot
from services.coverage.domain.rollups import COUNTERS
from services.coverage.store.new_employment import counts_statement as new_employment_counts
from services.coverage.store.snapshot_reads import read_one
from services.coverage.store.tables import (
    calendar,
    organization_facts,
    rate_changes,
    rollups,
    snapshots,
)

#: A region's version: see `RegionRead`.
RegionVersion = tuple[date | None, datetime | None, tuple[tuple[Any, ...], ...]]


@dataclass(frozen=True)
class RegionRead:
    """What a region's live figures are made of, read from one snapshot: the projection's day
    (None until stored), when the region's roll-up rows last changed (`as_of`), the rows
    themselves (kind, section, size band and the counters of each, in key order, as the store
    returned them) and the region's new-employment counts on that day (workers registered,
    checked in, open stations, requests resolved, on time).

    `version` is the day, `as_of` and the rows: equal versions, equal figures, by construction,
    since the figures are made of nothing else. Nothing else moves it either: not other
    regions' batches, nor the stream positions, nor the clock."""

    day: date | None
    as_of: datetime | None
    rows: tuple[tuple[Any, ...], ...]
    new_employment: tuple[int, int, int, int, int]

    @property
    def version(self) -> RegionVersion:
        return self.day, self.as_of, self.rows

    def breakdown(self) -> list[BreakdownRow]:
        """The rows as the domain counts them."""
        return [BreakdownRow(row[0], row[1], row[2], Counts(row[3:])) for row in self.rows]


def _timestamp(stored: datetime | str | None) -> datetime | None:
    """`updated_at` as `UTCDateTime` gives it, from what either store returned."""
    if isinstance(stored, str):
        return datetime.fromisoformat(stored).replace(tzinfo=UTC)
    return stored


def _day(stored: date | str | None) -> date | None:
    return date.fromisoformat(stored) if isinstance(stored, str) else stored


def _live_statement() -> tuple[Any, int]:
    """A region's `RegionRead` in one statement (parameters `region`, `area`; `today`, the
    offices' day, for the new-employment counts until a day is stored), so that it is read from
    one snapshot in one round trip: the head (the day, `as_of` and the new-employment counts:
    one row of small aggregates) joined to each of the region's roll-up rows, read on their
    key's index, in key order; a region without rows gives the head once, its row's columns
    NULL. With the number of the head's columns."""
    stored_day = select(calendar.c.day).where(calendar.c.name == "projection").scalar_subquery()
    counts = new_employment_counts(
        func.coalesce(stored_day, bindparam("today", type_=Date))
    ).subquery()
    r = rollups.c
    of_region = (r.region_code == bindparam("region")) & (r.area_id == bindparam("area"))
    head = select(
        stored_day.label("day"),
        select(func.max(r.updated_at)).where(of_region).scalar_subquery().label("as_of"),
        *counts.c,
    ).subquery()
    key = (r.kind, r.section, r.size_band)
    rows = select(*key, *[r[name] for name in COUNTERS]).where(of_region).subquery()
    row_key = (rows.c.kind, rows.c.section, rows.c.size_band)
    statement = (
        select(*head.c, *rows.c).select_from(head.outerjoin(rows, true())).order_by(*row_key)
    )
    return statement, len(head.c)


#: Built once: every GET of a region's rates runs it, and building it cost more than running it.
_LIVE, _HEAD_COLUMNS = _live_statement()


@dataclass(frozen=True)
class PendingChange:
    """A region whose figures changed: when last, and the trace of that change."""

    changed_at: datetime
    traceparent: str | None


class RollupRepository(Repository):
    async def live(self, area: Area, today: date) -> RegionRead:
        """The region's `RegionRead` (new-employment counts of the whole region, whatever the
        area), in one step (`read_one`)."""
        region_code, area_id = area
        params = {"region": region_code, "area": area_id, "today": today}
        found = await read_one(self.session, _LIVE, params)
        day, as_of, *counts = found[0][:_HEAD_COLUMNS]
        rows = [row[_HEAD_COLUMNS:] for row in found if row[_HEAD_COLUMNS] is not None]
        registered, checked_in, stations, resolved, on_time = (int(n) for n in counts)
        return RegionRead(
            _day(day),
            _timestamp(as_of),
            tuple(rows),
            (registered, checked_in, stations, resolved, on_time),
        )

    async def totals(self, areas: Iterable[Area]) -> dict[Area, Counts]:
        """Summed counters of many regions in one query."""
        wanted = sorted(set(areas))
        if not wanted:
            return {}
        # by region as one array parameter (thousands of (region, area) pairs rendered as an
        # IN list cost more than the query); the few other areas of those regions are dropped
        rows = await self.session.execute(
            select(
                rollups.c.region_code,
                rollups.c.area_id,
                *[func.sum(rollups.c[name]) for name in COUNTERS],
            )
            .where(one_of(self.session, rollups.c.region_code, sorted({r for r, _ in wanted})))
            .group_by(rollups.c.region_code, rollups.c.area_id)
        )
        found = {(r[0], r[1]): Counts(tuple(int(v or 0) for v in r[2:])) for r in rows}
        return {area: found.get(area, Counts()) for area in wanted}

    async def subregion_totals(self, region_code: str) -> dict[str, Counts]:
        """Summed counters of every region one level below `region_code` (townships of a
        county, ...; a level coded as zeros is skipped, as the roll-ups skip it)."""
        lengths = [n for n in (2, 4, 6, 9, 12) if n > len(region_code)][:2]
        if not lengths:
            return {}
        rows = await self.session.execute(
            select(rollups.c.region_code, *[func.sum(rollups.c[name]) for name in COUNTERS])
            .where(
                starting_with(rollups.c.region_code, region_code),
                func.length(rollups.c.region_code).in_(lengths),
                rollups.c.area_id == "",
            )
            .group_by(rollups.c.region_code)
        )
        return {r[0]: Counts(tuple(int(v or 0) for v in r[1:])) for r in rows}

    # --- snapshots -------------------------------------------------------------------------

    async def has_snapshot(self, taken_on: date) -> bool:
        found = await self.session.execute(
            select(snapshots.c.taken_on).where(snapshots.c.taken_on == taken_on).limit(1)
        )
        return found.first() is not None

    async def take_snapshot(self, taken_on: date, taken_at: datetime) -> int:
        """Store every region's counters for the day (replacing that day's, if any), computed
        in the database from the roll-ups; returns how many regions were stored."""
        await self.session.execute(delete(snapshots).where(snapshots.c.taken_on == taken_on))
        source = select(
            rollups.c.region_code,
            rollups.c.area_id,
            literal(taken_on, snapshots.c.taken_on.type),
            literal(taken_at, UTCDateTime()),
            *[func.sum(rollups.c[name]) for name in COUNTERS],
            true(),
        ).group_by(rollups.c.region_code, rollups.c.area_id)
        names = ["region_code", "area_id", "taken_on", "taken_at", *COUNTERS, "effective_measured"]
        result = await self.session.execute(snapshots.insert().from_select(names, source))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def history(self, area: Area, start: date, end: date) -> list[Snapshot]:
        region_code, area_id = area
        rows = await self.session.execute(
            select(snapshots)
            .where(
                snapshots.c.region_code == region_code,
                snapshots.c.area_id == area_id,
                snapshots.c.taken_on >= start,
                snapshots.c.taken_on <= end,
            )
            .order_by(snapshots.c.taken_on)
        )
        return [
            Snapshot(
                row["taken_on"],
                row["taken_at"],
                Counts(tuple(int(row[name]) for name in COUNTERS)),
                effective_measured=bool(row["effective_measured"]),
            )
            for row in rows.mappings()
        ]

    # --- changes awaiting pb.coverage.rates.changed ----------------------------------------

    async def pending_changes(self, limit: int) -> dict[Area, PendingChange]:
        c = rate_changes.c
        rows = await self.session.execute(
            select(c.region_code, c.area_id, c.changed_at, c.traceparent)
            .order_by(c.changed_at)
            .limit(limit)
        )
        return {(r, a): PendingChange(at, cause) for r, a, at, cause in rows}

    async def forget_changes(self, seen: dict[Area, PendingChange]) -> None:
        """Forget the changes announced, unless another came after they were read."""
        if not seen:
            return
        statement = delete(rate_changes).where(
            rate_changes.c.region_code == bindparam("r"),
            rate_changes.c.area_id == bindparam("a"),
            rate_changes.c.changed_at <= bindparam("at"),
        )
        # in key order, as the projector marks them: no lock-order deadlock on PostgreSQL
        await self.session.execute(
            statement,
            [{"r": r, "a": a, "at": change.changed_at} for (r, a), change in sorted(seen.items())],
        )


# --- the roll-ups added up afresh from the organisations' facts (a rebuild) -----------------

#: The facts' columns the counting may read, apart from the roll-up key (region, parks, kind,
#: industry, size band) and who an organisation is: each distinct combination of them is counted
#: once, in Python (`domain.rollups.counts`), and the database adds the results up.
COUNTED_COLUMNS: tuple[str, ...] = (
    "managed",
    "three_haves",
    "operating_status",
    "no_branch_reason",
    "full_members",
    "probationary_members",
    "ledger_complete",
    "branch_kind",
    "branch_formed_on",
    "branch_kept",
    "instructor_count",
    "mass_organization_count",
)

_scratch = MetaData()
#: Each region code of the facts, with every region it rolls up to (`regions_of`).
_regions = Table(
    "rebuild_regions",
    _scratch,
    Column("region_code", String(12), nullable=False),
    Column("ancestor", String(12), nullable=False),
    Index("ix_rebuild_regions", "region_code"),
    prefixes=["TEMPORARY"],
)
#: Each industry code of the facts ('' for none) with its section (`industry_section`).
_sections = Table(
    "rebuild_sections",
    _scratch,
    Column("industry_code", String(8), primary_key=True),
    Column("section", String(8), nullable=False),
    prefixes=["TEMPORARY"],
)
#: Each list of parks of the facts (as stored) with each park in it.
_areas = Table(
    "rebuild_areas",
    _scratch,
    Column("area_ids", Text(), nullable=False),
    Column("area_id", String(64), nullable=False),
    Index("ix_rebuild_areas", "area_ids"),
    prefixes=["TEMPORARY"],
)
#: Each combination of the counted columns (as one text key) with its counters.
_counting = Table(
    "rebuild_counting",
    _scratch,
    Column("signature", Text(), primary_key=True),
    *[Column(name, Integer(), nullable=False) for name in COUNTERS],
    prefixes=["TEMPORARY"],
)
#: The facts summed per region as coded (a village mostly), parks, kind, section and size band.
_places = Table(
    "rebuild_places",
    _scratch,
    Column("region_code", String(12), nullable=False),
    Column("area_ids", Text(), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("section", String(8), nullable=False),
    Column("size_band", String(16), nullable=False),
    *[Column(name, Integer(), nullable=False) for name in COUNTERS],
    Index("ix_rebuild_places", "region_code"),
    prefixes=["TEMPORARY"],
)
_SCRATCH_TABLES = (_regions, _sections, _areas, _counting, _places)


def _signature() -> ColumnElement[str]:
    """The counted columns of a facts row as one text (NULL spelled apart from any value)."""
    f = organization_facts.c
    parts: list[ColumnElement[str]] = [
        func.coalesce(cast(f[name], String()), literal("~")) for name in COUNTED_COLUMNS
    ]
    parts.append(case((f.branch_id.is_(None), literal("n")), else_=literal("b")))
    signature = parts[0]
    for part in parts[1:]:
        signature = signature.concat(literal("|")).concat(part)
    return signature


def _counted_facts(row: Any) -> CoverageFacts:
    """Facts standing for every organisation with these counted columns."""
    return CoverageFacts(
        organization_id="",
        region_code="",
        kind="",
        managed=bool(row.managed),
        three_haves=None if row.three_haves is None else bool(row.three_haves),
        operating_status=row.operating_status,
        no_branch_reason=row.no_branch_reason,
        full_members=row.full_members,
        probationary_members=row.probationary_members,
        ledger_complete=bool(row.ledger_complete),
        branch_id="" if row.has_branch else None,
        branch_kind=row.branch_kind,
        branch_formed_on=row.branch_formed_on,
        branch_kept=bool(row.branch_kept),
        instructor_count=row.instructor_count,
        mass_organization_count=row.mass_organization_count,
    )


class RollupTotals(Repository):
    """The roll-ups computed afresh from `organization_facts` (a rebuild): the counting runs in
    Python once per distinct combination of what it reads (`COUNTED_COLUMNS`), each region
    code's ancestors and each industry code's section likewise; the database joins those to the
    facts and adds them up per region level with aggregates, never handing an organisation to
    Python."""

    async def recount(
        self,
        counting: Callable[[CoverageFacts], tuple[int, ...]],
        ancestors: Callable[[str], Iterable[str]],
        section: Callable[[str | None], str],
    ) -> int:
        """Replace the roll-ups with those the facts add up to; returns the rows written."""
        session = self.session
        await session.run_sync(lambda s: _scratch.create_all(s.connection()))
        try:
            await self._fill_lookups(counting, ancestors, section)
            await session.execute(delete(rollups))
            await session.execute(_places.insert().from_select(_place_names(), _places_query()))
            written = 0
            for by_area in (False, True):
                result = await session.execute(
                    rollups.insert().from_select(_rollup_names(), _rollups_query(by_area))
                )
                written += int(result.rowcount or 0)  # type: ignore[attr-defined]
            return written
        finally:
            await session.run_sync(lambda s: _scratch.drop_all(s.connection()))

    async def _fill_lookups(
        self,
        counting: Callable[[CoverageFacts], tuple[int, ...]],
        ancestors: Callable[[str], Iterable[str]],
        section: Callable[[str | None], str],
    ) -> None:
        session = self.session
        f = organization_facts.c
        codes = (await session.execute(select(f.region_code).distinct())).scalars().all()
        regions = [{"region_code": c, "ancestor": a} for c in codes for a in ancestors(c)]
        industries = (await session.execute(select(f.industry_code).distinct())).scalars().all()
        sections = {code or "": section(code) for code in industries}
        listed = (await session.execute(select(f.area_ids).distinct())).scalars().all()
        areas = [
            {"area_ids": ids, "area_id": area}
            for ids in listed
            for area in sorted(set(json.loads(ids or "[]")))
        ]
        signature = _signature().label("signature")
        combinations = await session.execute(
            select(
                signature,
                *[f[name] for name in COUNTED_COLUMNS],
                f.branch_id.is_not(None).label("has_branch"),
            ).distinct()
        )
        counted = {
            row.signature: dict(zip(COUNTERS, counting(_counted_facts(row)), strict=True))
            for row in combinations
        }
        for table, rows in (
            (_regions, regions),
            (_sections, [{"industry_code": k, "section": v} for k, v in sections.items()]),
            (_areas, areas),
            (_counting, [{"signature": k, **v} for k, v in counted.items()]),
        ):
            for start in range(0, len(rows), 10_000):
                await session.execute(table.insert(), rows[start : start + 10_000])


def _place_names() -> list[str]:
    return ["region_code", "area_ids", "kind", "section", "size_band", *COUNTERS]


def _places_query() -> Any:
    f = organization_facts.c
    k = _counting.c
    key = [f.region_code, f.area_ids, f.kind, _sections.c.section, f.size_band]
    return (
        select(*key, *[func.sum(k[name]) for name in COUNTERS])
        .select_from(organization_facts)
        .join(_counting, k.signature == _signature())
        .join(_sections, _sections.c.industry_code == func.coalesce(f.industry_code, ""))
        .group_by(*key)
    )


def _rollup_names() -> list[str]:
    return ["region_code", "area_id", "kind", "section", "size_band", *COUNTERS, "updated_at"]


def _rollups_query(by_area: bool) -> Any:
    """Every region level's rows from the places: the whole region's, or each park's."""
    p = _places.c
    sums: list[ColumnElement[Any]] = [func.sum(p[name]) for name in COUNTERS]
    area = _areas.c.area_id if by_area else literal("")
    key = [_regions.c.ancestor, p.kind, p.section, p.size_band]
    query = select(
        _regions.c.ancestor,
        area,
        p.kind,
        p.section,
        p.size_band,
        *sums,
        literal(utcnow(), UTCDateTime()),
    ).join(_regions, _regions.c.region_code == p.region_code)
    if by_area:
        query = query.join(_areas, _areas.c.area_ids == p.area_ids)
        key.append(_areas.c.area_id)
    total = sums[0]
    for one in sums[1:]:
        total = total + one
    return query.select_from(_places).group_by(*key).having(total > 0)
