"""SQL for visits, daily counts and the daily workers' marks."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import and_, func, insert, or_, select

from libs.common.db import Repository, dialect_insert
from libs.common.subtree import within_region
from services.stations.domain.visits import Visit
from services.stations.store.tables import visit_counts, visits, worker_marks


class VisitRepository(Repository):
    async def add(
        self,
        *,
        station_id: str,
        region_code: str,
        worker_id: str | None,
        at: datetime,
        day: date,
        hour: int,
    ) -> None:
        await self.session.execute(
            insert(visits),
            [
                {
                    "station_id": station_id,
                    "region_code": region_code,
                    "worker_id": worker_id,
                    "at": at,
                    "day": day,
                    "hour": hour,
                }
            ],
        )

    async def page_of(
        self,
        station_id: str,
        *,
        since: date | None,
        until: date | None,
        after: tuple[datetime, int] | None,
        limit: int,
    ) -> list[Visit]:
        """A page of a station's check-ins, newest first (then by id), after a keyset cursor;
        `since`/`until` (its days, inclusive) narrow it on `ix_visits_station_day`."""
        t = visits.c
        statement = select(t.id, t.station_id, t.worker_id, t.at).where(t.station_id == station_id)
        if since is not None:
            statement = statement.where(t.day >= since)
        if until is not None:
            statement = statement.where(t.day <= until)
        if after is not None:
            at, last_id = after
            statement = statement.where(or_(t.at < at, and_(t.at == at, t.id > last_id)))
        rows = await self.session.execute(statement.order_by(t.at.desc(), t.id).limit(limit))
        return [Visit(r.id, r.station_id, r.worker_id, r.at) for r in rows]

    async def put_count(
        self, *, station_id: str, region_code: str, day: date, count: int, at: datetime
    ) -> None:
        statement = dialect_insert(self.session, visit_counts).values(
            station_id=station_id, day=day, region_code=region_code, count=count, entered_at=at
        )
        statement = statement.on_conflict_do_update(
            index_elements=[visit_counts.c.station_id, visit_counts.c.day],
            set_={"count": statement.excluded.count, "entered_at": statement.excluded.entered_at},
        )
        await self.session.execute(statement)

    async def scanned_by_day(self, station_id: str, since: date, until: date) -> dict[date, int]:
        v = visits.c
        rows = await self.session.execute(
            select(v.day, func.count())
            .where(v.station_id == station_id, v.day >= since, v.day <= until)
            .group_by(v.day)
        )
        return {row[0]: int(row[1]) for row in rows}

    async def entered_by_day(self, station_id: str, since: date, until: date) -> dict[date, int]:
        c = visit_counts.c
        rows = await self.session.execute(
            select(c.day, c.count).where(c.station_id == station_id, c.day >= since, c.day <= until)
        )
        return {row[0]: int(row[1]) for row in rows}

    async def hours(self, station_id: str, since: date, until: date) -> list[int]:
        v = visits.c
        rows = await self.session.execute(
            select(v.hour, func.count())
            .where(v.station_id == station_id, v.day >= since, v.day <= until)
            .group_by(v.hour)
        )
        return [int(hour) for hour, n in rows for _ in range(int(n))]

    async def day_in_region(
        self, region_code: str, since: date, until: date
    ) -> tuple[dict[tuple[str, date], int], dict[tuple[str, date], int]]:
        """(scanned, entered) per (station, day) in a region subtree over a period."""
        v, c = visits.c, visit_counts.c
        scanned_rows = await self.session.execute(
            select(v.station_id, v.day, func.count())
            .where(within_region(v.region_code, region_code), v.day >= since, v.day <= until)
            .group_by(v.station_id, v.day)
        )
        entered_rows = await self.session.execute(
            select(c.station_id, c.day, c.count).where(
                within_region(c.region_code, region_code), c.day >= since, c.day <= until
            )
        )
        scanned = {(row[0], row[1]): int(row[2]) for row in scanned_rows}
        entered = {(row[0], row[1]): int(row[2]) for row in entered_rows}
        return scanned, entered

    async def stations_active_on(self, day: date) -> dict[str, tuple[str, int, int | None]]:
        """Stations with visits or a count on `day`: station -> (region, scanned, entered)."""
        v, c = visits.c, visit_counts.c
        regions: dict[str, str] = {}
        scanned: dict[str, int] = {}
        entered: dict[str, int] = {}
        for station_id, region_code, n in await self.session.execute(
            select(v.station_id, v.region_code, func.count())
            .where(v.day == day)
            .group_by(v.station_id, v.region_code)
        ):
            regions[station_id] = region_code
            scanned[station_id] = int(n)
        for station_id, region_code, n in await self.session.execute(
            select(c.station_id, c.region_code, c.count).where(c.day == day)
        ):
            regions[station_id] = region_code
            entered[station_id] = int(n)
        return {
            station_id: (regions[station_id], scanned.get(station_id, 0), entered.get(station_id))
            for station_id in sorted(regions)
        }

    async def mark(self, name: str) -> date | None:
        found: date | None = (
            await self.session.execute(
                select(worker_marks.c.day).where(worker_marks.c.name == name)
            )
        ).scalar_one_or_none()
        return found

    async def set_mark(self, name: str, day: date) -> None:
        statement = dialect_insert(self.session, worker_marks).values(name=name, day=day)
        statement = statement.on_conflict_do_update(
            index_elements=[worker_marks.c.name], set_={"day": statement.excluded.day}
        )
        await self.session.execute(statement)
