"""SQL for the new employment groups: workers, stations and requests as the stations service's
events describe them, and a region's counts on a day (one indexed range query per table, read
with the region's roll-ups: `store.rollups`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, and_, bindparam, case, func, or_, select, true

from libs.common.db import Repository, dialect_insert
from libs.common.tables import utcnow
from services.coverage.store.tables import requests, stations, workers


def _earlier(current: Any, new: Any) -> Any:
    """The earlier of two nullable dates, in SQL both stores speak."""
    return case(
        (current.is_(None), new), (new.is_(None), current), (new < current, new), else_=current
    )


class NewEmploymentRepository(Repository):
    async def register_workers(self, rows: list[dict[str, Any]]) -> None:
        """Workers registered (worker_id, region_code, registered_on): the registration's region
        and day; a check-in seen before it is kept."""
        if not rows:
            return
        statement = dialect_insert(self.session, workers)
        statement = statement.on_conflict_do_update(
            index_elements=[workers.c.worker_id],
            set_={
                "region_code": statement.excluded.region_code,
                "registered_on": statement.excluded.registered_on,
                "updated_at": statement.excluded.updated_at,
            },
        )
        now = utcnow()
        await self.session.execute(
            statement, [{**r, "checked_in_on": None, "updated_at": now} for r in _last(rows)]
        )

    async def check_in_workers(self, rows: list[dict[str, Any]]) -> None:
        """Check-ins (worker_id, region_code, checked_in_on): the first one counts; a worker not
        registered yet is kept with no registration (not counted) until it is."""
        if not rows:
            return
        first: dict[str, dict[str, Any]] = {}
        for row in rows:
            kept = first.get(row["worker_id"])
            if kept is None or row["checked_in_on"] < kept["checked_in_on"]:
                first[row["worker_id"]] = row
        statement = dialect_insert(self.session, workers)
        statement = statement.on_conflict_do_update(
            index_elements=[workers.c.worker_id],
            set_={
                "checked_in_on": _earlier(
                    workers.c.checked_in_on, statement.excluded.checked_in_on
                ),
                "updated_at": statement.excluded.updated_at,
            },
        )
        now = utcnow()
        await self.session.execute(
            statement,
            [{**r, "registered_on": None, "updated_at": now} for _, r in sorted(first.items())],
        )

    async def write_stations(self, rows: list[dict[str, Any]]) -> None:
        """Stations at a version (station_id, version, region_code, opened_on, closed_on): a
        higher version wins; the opening day, once known, stays."""
        if not rows:
            return
        statement = dialect_insert(self.session, stations)
        newer = statement.excluded.version > stations.c.version
        statement = statement.on_conflict_do_update(
            index_elements=[stations.c.station_id],
            set_={
                "version": case((newer, statement.excluded.version), else_=stations.c.version),
                "region_code": case(
                    (newer, statement.excluded.region_code), else_=stations.c.region_code
                ),
                "opened_on": func.coalesce(stations.c.opened_on, statement.excluded.opened_on),
                "closed_on": case(
                    (newer, statement.excluded.closed_on), else_=stations.c.closed_on
                ),
                "updated_at": statement.excluded.updated_at,
            },
        )
        opened = {r["station_id"]: r["opened_on"] for r in rows if r["opened_on"] is not None}
        now = utcnow()
        await self.session.execute(
            statement,
            [
                {**r, "opened_on": opened.get(r["station_id"]), "updated_at": now}
                for r in _highest(rows, "station_id")
            ],
        )

    async def write_requests(self, rows: list[dict[str, Any]]) -> None:
        """Requests resolved or reopened at a version (request_id, version, region_code,
        resolved_on, on_time): a higher version wins."""
        if not rows:
            return
        statement = dialect_insert(self.session, requests)
        statement = statement.on_conflict_do_update(
            index_elements=[requests.c.request_id],
            set_={
                c.name: statement.excluded[c.name]
                for c in requests.columns
                if c.name != "request_id"
            },
            where=statement.excluded.version > requests.c.version,
        )
        now = utcnow()
        await self.session.execute(
            statement, [{**r, "updated_at": now} for r in _highest(rows, "request_id")]
        )


def counts_statement(day: Any) -> Any:
    """A region's counts on `day` (a date expression; parameters `low`, `high`:
    `region_range`), as one row: workers registered, checked in, open stations, requests
    resolved, resolved on time. Three one-row aggregates in one statement: a read's round trips
    cost more than these."""
    low = bindparam("low", type_=String)
    high = bindparam("high", type_=String)

    def within(table: Any) -> Any:
        return and_(table.c.region_code >= low, table.c.region_code < high)

    registered = and_(workers.c.registered_on.is_not(None), workers.c.registered_on <= day)
    checked_in = and_(registered, workers.c.checked_in_on <= day)
    resolved = requests.c.resolved_on <= day
    worker_counts = (
        select(
            func.count().filter(registered).label("registered"),
            func.count().filter(checked_in).label("checked_in"),
        )
        .where(within(workers))
        .subquery()
    )
    station_counts = (
        select(func.count().label("open"))
        .where(
            within(stations),
            stations.c.opened_on <= day,
            or_(stations.c.closed_on.is_(None), stations.c.closed_on > day),
        )
        .subquery()
    )
    request_counts = (
        select(
            func.count().filter(resolved).label("resolved"),
            func.count().filter(and_(resolved, requests.c.on_time)).label("on_time"),
        )
        .where(within(requests))
        .subquery()
    )
    return select(worker_counts, station_counts, request_counts).select_from(
        worker_counts.join(station_counts, true()).join(request_counts, true())
    )


def _last(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per worker, the last one (a multi-row upsert may not touch a row twice)."""
    return [row for _, row in sorted({r["worker_id"]: r for r in rows}.items())]


def _highest(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """One row per key, the highest version (the first of equal ones)."""
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        kept = best.get(row[key])
        if kept is None or row["version"] > kept["version"]:
            best[row[key]] = row
    return [row for _, row in sorted(best.items())]
