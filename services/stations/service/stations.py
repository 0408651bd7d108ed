"""Use cases on stations, the nearest search, and the one place station events are built."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from libs.common.audit import Actor
from libs.common.calendar import local_today
from libs.common.ids import new_id
from libs.common.tables import utcnow
from services.stations.domain.cells import cell_of, rings
from services.stations.domain.stations import (
    Nearby,
    NearestQuery,
    Operator,
    StaleStation,
    Station,
    StationFilter,
    StationNotFound,
    UnknownOperator,
    changed_fields,
    check_open_for_change,
    closed,
    nearest_of,
)
from services.stations.events import StationChangedV1, StationClosedV1, StationOpenedV1
from services.stations.store.uow import StationsUnitOfWork


def state_of(station: Station) -> dict[str, Any]:
    """The station's state as every station event carries it."""
    return {
        "station_id": station.id,
        "version": station.version,
        "name": station.name,
        "kind": station.kind,
        "region_code": station.region_code,
        "latitude": station.location.latitude,
        "longitude": station.location.longitude,
        "facilities": list(station.facilities),
        "open_24h": station.hours.open_24h,
        "operator_kind": station.operator.kind,
        "operator_id": station.operator.id,
        "meets_standard": station.standard.met,
        "opened_on": station.opened_on,
    }


async def check_operator(uow: StationsUnitOfWork, operator: Operator) -> None:
    """An organisation or mass organisation operator must be one the registry announced and
    still active (the service learns them from the registry's events)."""
    operator.check()
    if operator.kind == "office" or operator.id is None:
        return
    known = await uow.operators.get(operator.id)
    if known is None or known.kind != operator.kind:
        raise UnknownOperator("operator.id", f"no {operator.kind} with this id is known")
    if not known.active:
        raise UnknownOperator("operator.id", f"the {operator.kind} is no longer active")


async def with_operator_names(uow: StationsUnitOfWork, batch: list[Station]) -> list[Station]:
    known = await uow.operators.get_many(s.operator.id for s in batch if s.operator.id)
    return [
        replace(s, operator_name=known[s.operator.id].name)
        if s.operator.id in known and s.operator.id is not None
        else s
        for s in batch
    ]


async def open_station(uow: StationsUnitOfWork, actor: Actor, **values: Any) -> Station:
    """Enter a station and announce it."""
    await check_operator(uow, values["operator"])
    now = utcnow()
    values.setdefault("opened_on", None)
    if values["opened_on"] is None:
        values["opened_on"] = local_today(now)
    station = Station(
        id=new_id(),
        cell=cell_of(values["location"]),
        version=1,
        created_at=now,
        updated_at=now,
        **values,
    )
    await uow.stations.add(station)
    await uow.record_and_audit(
        actor,
        StationOpenedV1(**state_of(station), opened_at=now),
        entity_type="station",
        region_code=station.region_code,
        changes=station.snapshot(),
    )
    return (await with_operator_names(uow, [station]))[0]


async def get_station(uow: StationsUnitOfWork, station_id: str) -> Station | None:
    station = await uow.stations.get(station_id)
    return None if station is None else (await with_operator_names(uow, [station]))[0]


async def _for_change(
    uow: StationsUnitOfWork, station_id: str, expected_version: int | None
) -> Station:
    station = await uow.stations.get(station_id, for_update=True)
    if station is None:
        raise StationNotFound(station_id)
    check_open_for_change(station, expected_version)
    return station


async def _save(uow: StationsUnitOfWork, after: Station, before: Station) -> None:
    if not await uow.stations.save(after, expected_version=before.version):
        current = await uow.stations.get(after.id)
        raise StaleStation(after.id, before.version, current.version if current else 0)


async def change_station(
    uow: StationsUnitOfWork,
    actor: Actor,
    station_id: str,
    changes: dict[str, Any],
    *,
    expected_version: int | None,
) -> Station:
    """Change a station's facts; nothing is written or announced when nothing really changes."""
    before = await _for_change(uow, station_id, expected_version)
    after = replace(before, **changes)
    changed = changed_fields(before, after)
    if not changed:
        return (await with_operator_names(uow, [before]))[0]
    if "operator" in changes:
        await check_operator(uow, after.operator)
    now = utcnow()
    after = replace(after, cell=cell_of(after.location), version=before.version + 1, updated_at=now)
    await _save(uow, after, before)
    old, new = before.snapshot(), after.snapshot()
    await uow.record_and_audit(
        actor,
        StationChangedV1(**state_of(after), changed=changed, changed_at=now),
        entity_type="station",
        region_code=after.region_code,
        changes={name: {"from": old[name], "to": new[name]} for name in changed},
    )
    return (await with_operator_names(uow, [after]))[0]


async def close_station(
    uow: StationsUnitOfWork,
    actor: Actor,
    station_id: str,
    *,
    on: date | None,
    reason: str,
    expected_version: int | None,
) -> Station:
    station = await uow.stations.get(station_id, for_update=True)
    if station is None:
        raise StationNotFound(station_id)
    if expected_version is not None and station.version != expected_version:
        raise StaleStation(station_id, expected_version, station.version)
    now = utcnow()
    today = local_today(now)
    after = replace(
        closed(station, on=on or today, today=today, reason=reason),
        version=station.version + 1,
        updated_at=now,
    )
    await _save(uow, after, station)
    assert after.closed_on is not None
    await uow.record_and_audit(
        actor,
        StationClosedV1(
            station_id=after.id,
            version=after.version,
            region_code=after.region_code,
            closed_on=after.closed_on,
            reason=reason,
        ),
        entity_type="station",
        region_code=after.region_code,
        changes={"closed_on": after.closed_on.isoformat(), "reason": reason},
    )
    return after


async def list_stations(
    uow: StationsUnitOfWork, where: StationFilter, *, after: tuple[str, str] | None, limit: int
) -> list[Station]:
    return await with_operator_names(uow, await uow.stations.find(where, after=after, limit=limit))


async def nearest_stations(uow: StationsUnitOfWork, query: NearestQuery) -> list[Nearby]:
    """The k nearest admitted stations, read ring by ring of grid cells outward until no unread
    station can be nearer than the k-th found (domain/cells.py), never the whole table."""
    found: list[Station] = []
    best: list[Nearby] = []
    for _radius, cells, clearance in rings(query.point, query.max_distance_m):
        found += await uow.stations.in_cells(cells, query.region_code)
        best = nearest_of(query, found)
        if len(best) >= query.k and best[query.k - 1].distance_m <= clearance:
            break
    return await _named(uow, best[: query.k])


async def nearest_by_scan(uow: StationsUnitOfWork, query: NearestQuery) -> list[Nearby]:
    """The same answer from every open station of the region (the baseline the bench measures
    the index against)."""
    return nearest_of(query, await uow.stations.all_open(query.region_code))[: query.k]


async def _named(uow: StationsUnitOfWork, nearby: list[Nearby]) -> list[Nearby]:
    named = await with_operator_names(uow, [n.station for n in nearby])
    return [Nearby(s, n.distance_m) for s, n in zip(named, nearby, strict=True)]
