"""SQL for the new employment groups: workers, stations and requests as the stations service's
events describe them, and a region's counts on a day, read with the region's roll-ups
(`store.rollups`) from its day rows (`coverage_employment_days`): each write reads the rows it
touches before and after, and moves the day rows of every region above them by the difference
(`domain.new_employment.day_deltas`), in the same transaction."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db import Repository, dialect_insert, one_of
from libs.common.tables import utcnow
from services.coverage.domain.new_employment import (
    DAY_MEASURES,
    REGION_LEVELS,
    Mark,
    day_deltas,
    request_marks,
    station_marks,
    worker_marks,
)
from services.coverage.store.bulk_writes import add_deltas, added
from services.coverage.store.tables import employment_days, requests, stations, workers


def _earlier(current: Any, new: Any) -> Any:
    """The earlier of two nullable dates, in SQL both stores speak."""
    return case(
        (current.is_(None), new), (new.is_(None), current), (new < current, new), else_=current
    )


#: The transaction-scoped advisory lock (PostgreSQL) a transaction holds from its first read of
#: the items it writes: the day rows move by what those rows were before the write and are
#: after it, and two replicas' batches touching one worker (its registration in one, its
#: check-in in the other) would otherwise both read it as it was before either wrote, and
#: count its change twice. SQLite has one writer at a time.
WRITERS_KEY = zlib.crc32(b"pb-coverage-employment-days")


class NewEmploymentRepository(Repository):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._serialised = False

    async def _serialise(self) -> None:
        """Wait for (then hold until commit) the writers' lock, once a transaction."""
        if self._serialised:
            return
        connection = await self.session.connection()
        if connection.dialect.name == "postgresql":
            await self.session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITERS_KEY}
            )
        self._serialised = True

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
        await self._write(
            "worker",
            statement,
            [{**r, "checked_in_on": None, "updated_at": now} for r in _last(rows)],
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
        await self._write(
            "worker",
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
        await self._write(
            "station",
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
        await self._write(
            "request", statement, [{**r, "updated_at": now} for r in _highest(rows, "request_id")]
        )

    async def _write(self, kind: str, statement: Any, rows: list[dict[str, Any]]) -> None:
        """The upsert `statement` of items of `kind` over `rows`, the day rows moved by what it
        changed of them (their marks read before and after it, under the writers' lock)."""
        key = _ITEMS[kind][0].name
        ids = [row[key] for row in rows]
        await self._serialise()
        before = await self._marks_of(kind, ids)
        await self.session.execute(statement, rows)
        await self._move_days(before, await self._marks_of(kind, ids))

    async def recount_days(self) -> int:
        """The day rows made again from the workers', stations' and requests' rows (by the
        rules of `domain.new_employment`, in SQL: one INSERT ... SELECT), for a store whose
        items were written without them (a release before migration 0012 run again on its
        schema); returns how many rows there are now."""
        await self._serialise()
        await self.session.execute(delete(employment_days))
        await self.session.execute(
            employment_days.insert().from_select(
                ["region_code", "day", *DAY_MEASURES], _counted_days(REGION_LEVELS)
            )
        )
        counted = await self.session.execute(select(func.count()).select_from(employment_days))
        return int(counted.scalar_one())

    async def drifted_days(self) -> int:
        """How many days of some province the day rows count otherwise than the items' rows do
        (0 when they agree), in one statement, so from one snapshot: every item's change moves
        its province's row of the day, so a change written without its day rows shows here."""
        d = employment_days.c
        stored = select(d.region_code, d.day, *[-d[name] for name in DAY_MEASURES]).where(
            func.length(d.region_code) == 2
        )
        both = union_all(_counted_days((2,)), stored).subquery()
        differs = (
            select(both.c.region_code)
            .group_by(both.c.region_code, both.c.day)
            .having(or_(*(func.sum(both.c[name]) != 0 for name in DAY_MEASURES)))
            .subquery()
        )
        found = await self.session.execute(select(func.count()).select_from(differs))
        return int(found.scalar_one())

    async def _marks_of(self, kind: str, ids: list[str]) -> list[Mark]:
        """The marks (`domain.new_employment`) of the items `ids` of `kind`, as they stand."""
        key, columns, marks = _ITEMS[kind]
        found = await self.session.execute(select(*columns).where(one_of(self.session, key, ids)))
        return [mark for row in found for mark in marks(*row)]

    async def _move_days(self, before: list[Mark], after: list[Mark]) -> None:
        """The day rows of every region above the rows written moved by what they changed (on
        PostgreSQL through a temporary table, `bulk_writes.add_deltas`: a history's batch moves
        thousands of rows)."""
        moved = day_deltas(before, after)
        if not moved:
            return
        records = [(region_code, day, *row) for (region_code, day), row in sorted(moved.items())]
        names = ["region_code", "day", *DAY_MEASURES]
        connection = await self.session.connection()
        if connection.dialect.name == "postgresql":
            await add_deltas(connection, employment_days, names, records, again=True)
            return
        statement = dialect_insert(self.session, employment_days)
        statement = statement.on_conflict_do_update(
            index_elements=list(employment_days.primary_key.columns),
            set_=added(employment_days, statement.excluded),
        )
        await self.session.execute(
            statement, [dict(zip(names, record, strict=True)) for record in records]
        )


#: Per kind of item: its table's key, the columns its marks are made of, and how they are made.
_ITEMS: dict[str, tuple[Any, tuple[Any, ...], Callable[..., list[Mark]]]] = {
    "worker": (
        workers.c.worker_id,
        (workers.c.region_code, workers.c.registered_on, workers.c.checked_in_on),
        worker_marks,
    ),
    "station": (
        stations.c.station_id,
        (stations.c.region_code, stations.c.opened_on, stations.c.closed_on),
        station_marks,
    ),
    "request": (
        requests.c.request_id,
        (requests.c.region_code, requests.c.resolved_on, requests.c.on_time),
        request_marks,
    ),
}


def _later(a: Any, b: Any) -> Any:
    return case((b > a, b), else_=a)


#: Each kind of mark as SQL (`domain.new_employment`: `worker_marks`, `station_marks`,
#: `request_marks`): its table, its day, the step of each of `DAY_MEASURES`, its condition.
_KINDS: tuple[tuple[Any, Any, tuple[Any, ...], Any], ...] = (
    (workers, workers.c.registered_on, (1, 0, 0, 0, 0), workers.c.registered_on.is_not(None)),
    (
        workers,
        _later(workers.c.registered_on, workers.c.checked_in_on),
        (0, 1, 0, 0, 0),
        and_(workers.c.registered_on.is_not(None), workers.c.checked_in_on.is_not(None)),
    ),
    (stations, stations.c.opened_on, (0, 0, 1, 0, 0), stations.c.opened_on.is_not(None)),
    (
        stations,
        _later(stations.c.opened_on, stations.c.closed_on),
        (0, 0, -1, 0, 0),
        and_(stations.c.opened_on.is_not(None), stations.c.closed_on.is_not(None)),
    ),
    (
        requests,
        requests.c.resolved_on,
        (0, 0, 0, 1, case((requests.c.on_time, 1), else_=0)),
        requests.c.resolved_on.is_not(None),
    ),
)


def _marks(length: int, table: Any, day: Any, steps: tuple[Any, ...], condition: Any) -> Any:
    """One kind of mark of every item of `table`, in its region at code length `length`."""
    return select(
        func.substr(table.c.region_code, 1, length).label("region_code"),
        day.label("day"),
        *[
            (step if not isinstance(step, int) else literal(step, Integer())).label(name)
            for step, name in zip(steps, DAY_MEASURES, strict=True)
        ],
    ).where(condition, func.length(table.c.region_code) >= length)


def _counted_days(levels: tuple[int, ...]) -> Any:
    """The day rows at region code `levels` as the items' rows give them (region_code, day,
    then a sum per `DAY_MEASURES`; days that move nothing left out)."""
    marks = union_all(*(_marks(length, *kind) for length in levels for kind in _KINDS)).subquery()
    sums = [func.sum(marks.c[name]).label(name) for name in DAY_MEASURES]
    return (
        select(marks.c.region_code, marks.c.day, *sums)
        .group_by(marks.c.region_code, marks.c.day)
        .having(or_(*(total != 0 for total in sums)))
    )


def counts_statement(day: Any) -> Any:
    """A region's counts on `day` (a date expression; parameter `region`, its code) as one row,
    a column per `DAY_MEASURES` (workers registered, checked in, open stations, requests
    resolved, resolved on time): the sums of its day rows up to that day, a few hundred rows a
    year whatever the number of workers (counted from the workers' own rows, a province of
    500,000 took 100 ms on PostgreSQL and 185 ms on SQLite)."""
    d = employment_days.c
    return select(
        *[func.coalesce(func.sum(d[name]), 0).label(name) for name in DAY_MEASURES]
    ).where(d.region_code == bindparam("region"), d.day <= day)


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
