"""SQL for stations: the only place that reads and writes the stations table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, tuple_, update

from libs.common.db import Repository, one_of
from libs.common.subtree import within_region
from services.stations.domain.coordinates import Point
from services.stations.domain.hours import OpeningHours
from services.stations.domain.stations import Operator, Standard, Station, StationFilter
from services.stations.store.tables import stations


def to_row(station: Station) -> dict[str, Any]:
    return {
        "id": station.id,
        "name": station.name,
        "kind": station.kind,
        "region_code": station.region_code,
        "address": station.address,
        "latitude": station.location.latitude,
        "longitude": station.location.longitude,
        "cell": station.cell,
        "facilities": list(station.facilities),
        "open_24h": station.hours.open_24h,
        "hours": station.hours.as_dict(),
        "operator_kind": station.operator.kind,
        "operator_id": station.operator.id,
        "has_sign": station.standard.has_sign,
        "has_space": station.standard.has_space,
        "has_equipment": station.standard.has_equipment,
        "opened_on": station.opened_on,
        "status": station.status,
        "closed_on": station.closed_on,
        "close_reason": station.close_reason,
        "version": station.version,
        "created_at": station.created_at,
        "updated_at": station.updated_at,
    }


def from_row(row: Mapping[Any, Any]) -> Station:
    return Station(
        id=row["id"],
        name=row["name"],
        kind=row["kind"],
        region_code=row["region_code"],
        address=row["address"],
        location=Point(row["latitude"], row["longitude"]),
        cell=row["cell"],
        facilities=tuple(row["facilities"]),
        hours=OpeningHours.parse(bool(row["open_24h"]), row["hours"]),
        operator=Operator(row["operator_kind"], row["operator_id"]),
        standard=Standard(
            bool(row["has_sign"]), bool(row["has_space"]), bool(row["has_equipment"])
        ),
        opened_on=row["opened_on"],
        status=row["status"],
        closed_on=row["closed_on"],
        close_reason=row["close_reason"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class StationRepository(Repository):
    async def get(self, station_id: str, *, for_update: bool = False) -> Station | None:
        row = await self.row_by_id(stations, station_id, for_update=for_update)
        return from_row(row) if row else None

    async def add(self, station: Station) -> None:
        await self.session.execute(insert(stations), [to_row(station)])

    async def add_many(self, batch: list[Station]) -> None:
        if batch:
            await self.session.execute(insert(stations), [to_row(s) for s in batch])

    async def save(self, station: Station, *, expected_version: int) -> bool:
        """Write a changed station if it is still at `expected_version`; False if it moved on."""
        row = to_row(station)
        result = await self.session.execute(
            update(stations)
            .where(stations.c.id == station.id, stations.c.version == expected_version)
            .values(**{k: v for k, v in row.items() if k != "id"})
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def in_cells(self, cells: list[int], region_code: str) -> list[Station]:
        """The open stations in these grid cells inside a region subtree (index on cell)."""
        if not cells:
            return []
        t = stations.c
        statement = select(stations).where(
            one_of(self.session, t.cell, cells),
            t.status == "open",
            within_region(t.region_code, region_code),
        )
        return [from_row(row) for row in (await self.session.execute(statement)).mappings()]

    async def all_open(self, region_code: str) -> list[Station]:
        """Every open station of a region subtree (the full scan the index is measured against)."""
        t = stations.c
        statement = select(stations).where(
            t.status == "open", within_region(t.region_code, region_code)
        )
        return [from_row(row) for row in (await self.session.execute(statement)).mappings()]

    async def find(
        self, where: StationFilter, *, after: tuple[str, str] | None, limit: int
    ) -> list[Station]:
        """A page in (region_code, id) order after a keyset cursor."""
        t = stations.c
        statement = select(stations).where(within_region(t.region_code, where.region_code))
        if where.kind is not None:
            statement = statement.where(t.kind == where.kind)
        if where.status is not None:
            statement = statement.where(t.status == where.status)
        if after is not None:
            statement = statement.where(tuple_(t.region_code, t.id) > after)
        statement = statement.order_by(t.region_code, t.id)
        if where.facility is None:
            rows = (await self.session.execute(statement.limit(limit))).mappings()
            return [from_row(row) for row in rows]
        # facilities are a JSON list: filtered here, reading on until the page is full
        found: list[Station] = []
        async for row in (await self.session.stream(statement)).mappings():
            station = from_row(row)
            if where.facility in station.facilities:
                found.append(station)
                if len(found) >= limit:
                    break
        return found
