"""HTTP routes of visits: a scanned check-in, a station's daily count, and the figures (日均,
busiest hours) of a station or a region."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from libs.common.audit import Actor
from libs.common.http import RegionCodeQuery, subtree_of
from libs.common.pagination import Page, Pages
from libs.common.problems import Forbidden
from libs.common.text import Text
from services.stations.api.deps import Caller, Reader, ReadSession, Transaction, Writer, party_of
from services.stations.service import stations as stations_service
from services.stations.service import visits as service

router = APIRouter(prefix="/v1/stations", tags=["visits"])

Since = Annotated[date, Query(alias="from", description="First day (Asia/Shanghai)")]
Until = Annotated[date, Query(alias="to", description="Last day, inclusive")]


class VisitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    worker_id: Text | None = Field(default=None, max_length=36)
    at: datetime | None = Field(default=None, description="Default: now")


class VisitOut(BaseModel):
    station_id: str
    worker_id: str | None
    at: datetime


class VisitPage(Page[VisitOut]):
    pass


class CountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: StrictInt = Field(ge=0, le=100_000)


class CountOut(BaseModel):
    station_id: str
    day: date
    count: int


class DayOut(BaseModel):
    day: date
    visits: int
    scanned: int
    entered: int | None


class HourOut(BaseModel):
    hour: int = Field(description="Hour of the day, Asia/Shanghai")
    visits: int


class StationStatsOut(BaseModel):
    station_id: str
    since: date = Field(serialization_alias="from")
    until: date = Field(serialization_alias="to")
    open_days: int
    total: int
    daily_average: float | None = Field(description="日均: total over the days it was open")
    busiest_hours: list[HourOut]
    by_day: list[DayOut]


class RegionStatsOut(BaseModel):
    region_code: str
    since: date = Field(serialization_alias="from")
    until: date = Field(serialization_alias="to")
    stations: int = Field(description="Stations with any visit in the period")
    total: int
    daily_average: float = Field(description="日均 of the region: total over the period's days")


@router.get("/visit-stats", summary="Visits of a region subtree over a period (日均)")
async def read_visit_stats(
    uow: ReadSession,
    principal: Reader,
    since: Since,
    until: Until,
    region_code: RegionCodeQuery = None,
) -> RegionStatsOut:
    region = subtree_of(principal, region_code)
    total, stations, average = await service.region_figures(uow, region, since, until)
    return RegionStatsOut(
        region_code=region,
        since=since,
        until=until,
        stations=stations,
        total=total,
        daily_average=average,
    )


@router.post(
    "/{station_id}/visits",
    status_code=status.HTTP_201_CREATED,
    summary="A check-in at a station (its code scanned), optionally by a worker",
)
async def check_in_visit(
    station_id: Text, body: VisitIn, uow: Transaction, principal: Caller
) -> VisitOut:
    party = party_of(principal, moving=True)
    worker_id = body.worker_id
    if party.kind == "unit":
        raise Forbidden("a unit does not record visits")
    if party.kind == "requester":
        kind, _, ident = principal.subject.partition(":")
        if kind != "worker":
            raise Forbidden("only a worker checks in at a station")
        worker_id = ident
    principal.visible(await stations_service.get_station(uow, station_id), "station")
    at = await service.check_in_visit(uow, station_id, worker_id=worker_id, at=body.at)
    return VisitOut(station_id=station_id, worker_id=worker_id, at=at)


@router.get("/{station_id}/visits", summary="A station's scanned check-ins, newest first")
async def list_visits(
    station_id: Text,
    uow: ReadSession,
    principal: Reader,
    pages: Pages,
    since: Annotated[
        date | None, Query(alias="from", description="First day (Asia/Shanghai)")
    ] = None,
    until: Annotated[date | None, Query(alias="to", description="Last day, inclusive")] = None,
) -> VisitPage:
    principal.visible(await stations_service.get_station(uow, station_id), "station")
    after = pages.after(datetime, int)
    found = await service.visits_of(
        uow,
        station_id,
        since=since,
        until=until,
        after=None if after is None else (after[0], after[1]),
        limit=pages.fetch,
    )
    return VisitPage.of(
        pages,
        found,
        key=lambda v: (v.at, v.id),
        item=lambda v: VisitOut(station_id=v.station_id, worker_id=v.worker_id, at=v.at),
    )


@router.put("/{station_id}/visit-counts/{day}", summary="The station's own count of a day")
async def put_visit_count(
    station_id: Text, day: date, body: CountIn, uow: Transaction, principal: Writer
) -> CountOut:
    principal.visible(await stations_service.get_station(uow, station_id), "station")
    await service.put_count(uow, Actor.of(principal), station_id, day, body.count)
    return CountOut(station_id=station_id, day=day, count=body.count)


@router.get("/{station_id}/stats", summary="A station's visits over a period (日均, busiest hours)")
async def read_station_stats(
    station_id: Text, uow: ReadSession, principal: Reader, since: Since, until: Until
) -> StationStatsOut:
    station = principal.visible(await stations_service.get_station(uow, station_id), "station")
    f = await service.figures(uow, station, since, until)
    return StationStatsOut(
        station_id=station_id,
        since=f.since,
        until=f.until,
        open_days=f.open_days,
        total=f.total,
        daily_average=f.daily_average,
        busiest_hours=[HourOut(hour=h, visits=n) for h, n in f.busiest_hours],
        by_day=[DayOut(**d.__dict__) for d in f.by_day],
    )
