"""SQL that reads the roll-ups: a region's figures, daily snapshots, changes pending."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, delete, func, literal, select, true

from libs.common.db import Repository, one_of, starting_with
from libs.common.tables import UTCDateTime, consumer_positions
from services.coverage.domain.rates import Area, BreakdownRow, Counts, Snapshot
from services.coverage.domain.rollups import COUNTERS
from services.coverage.store.tables import calendar, rate_changes, rollups, snapshots


@dataclass(frozen=True)
class RollupVersion:
    """What moves whenever a region's roll-up figures may have changed, read in one statement:
    the projection's day (None until stored), the sum of the stream positions the ordered
    consumers applied (each only goes up, written in the transaction of its effects), and the
    region's roll-up rows: how many and when one was last written (a rebuild rewrites them)."""

    day: date | None
    positions: int
    rows: int
    updated_at: datetime | None


@dataclass(frozen=True)
class PendingChange:
    """A region whose figures changed: when last, and the trace of that change."""

    changed_at: datetime
    traceparent: str | None


class RollupRepository(Repository):
    async def breakdown(self, area: Area) -> tuple[list[BreakdownRow], datetime | None]:
        """The roll-up rows of one region (at most kinds x sections x size bands of them) and
        when they last changed."""
        region_code, area_id = area
        rows = (
            await self.session.execute(
                select(rollups).where(
                    rollups.c.region_code == region_code, rollups.c.area_id == area_id
                )
            )
        ).mappings()
        found: list[BreakdownRow] = []
        as_of: datetime | None = None
        for row in rows:
            found.append(
                BreakdownRow(
                    row["kind"],
                    row["section"],
                    row["size_band"],
                    Counts(tuple(int(row[name]) for name in COUNTERS)),
                )
            )
            as_of = row["updated_at"] if as_of is None else max(as_of, row["updated_at"])
        return found, as_of

    async def version(self, area: Area) -> RollupVersion:
        """The region's `RollupVersion`: equal versions, equal figures."""
        region_code, area_id = area
        of_region = (rollups.c.region_code == region_code) & (rollups.c.area_id == area_id)
        row = (
            await self.session.execute(
                select(
                    select(calendar.c.day).where(calendar.c.name == "projection").scalar_subquery(),
                    select(
                        func.coalesce(func.sum(consumer_positions.c.last_sequence), 0)
                    ).scalar_subquery(),
                    select(func.count()).where(of_region).scalar_subquery(),
                    select(func.max(rollups.c.updated_at)).where(of_region).scalar_subquery(),
                )
            )
        ).one()
        return RollupVersion(row[0], int(row[1]), int(row[2]), row[3])

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
