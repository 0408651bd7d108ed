"""HTTP routes for stations (驿站): enter, list, read, change, close, and the nearest search.

Every read and write carries the station's version as a strong ETag; PATCH (a JSON merge patch)
and close require `If-Match` (428 without it, 412 when the station has moved on). Coordinates are
WGS-84 unless `coordinate_system` says `gcj02` (what Chinese map apps give): those are converted.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat

from libs.common.audit import Actor
from libs.common.auth import Principal
from libs.common.calendar import local_today
from libs.common.fields import RegionCode
from libs.common.http import (
    IfMatch,
    RegionCodeQuery,
    etag,
    expected_version,
    sends,
    subtree_of,
)
from libs.common.pagination import Page, Pages
from libs.common.problems import FieldError, InvalidInput
from libs.common.tables import utcnow
from libs.common.text import Name, Text
from services.stations.api.deps import Reader, ReadSession, SettingsDep, Transaction, Writer
from services.stations.domain.coordinates import (
    CoordinateSystem,
    Point,
    to_wgs84,
    wgs84_to_gcj02,
)
from services.stations.domain.hours import OpeningHours
from services.stations.domain.stations import (
    Facility,
    Nearby,
    NearestQuery,
    Operator,
    OperatorKind,
    Standard,
    Station,
    StationFilter,
    StationKind,
    StationStatus,
)
from services.stations.service import StationsUnitOfWork
from services.stations.service import stations as service

router = APIRouter(prefix="/v1/stations", tags=["stations"])

Hours = dict[Text, list[Annotated[list[Text], Field(min_length=2, max_length=2)]]]


class LocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latitude: StrictFloat = Field(ge=-90, le=90)
    longitude: StrictFloat = Field(ge=-180, le=180)
    coordinate_system: CoordinateSystem = Field(
        default="wgs84", description="wgs84 (GPS) or gcj02 (高德/腾讯 maps), converted to WGS-84"
    )

    def point(self) -> Point:
        return to_wgs84(self.latitude, self.longitude, self.coordinate_system)


class OperatorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: OperatorKind
    id: Text | None = Field(default=None, max_length=36, description="The registry's id")

    def operator(self) -> Operator:
        operator = Operator(self.kind, self.id)
        operator.check()
        return operator


class StandardIn(BaseModel):
    """有标识、有场地、有设备."""

    model_config = ConfigDict(extra="forbid")

    has_sign: StrictBool = False
    has_space: StrictBool = False
    has_equipment: StrictBool = False


class StationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "新荣镇迎宾路暖“新”驿站",
                    "kind": "warm_new",
                    "region_code": "140212101",
                    "address": "新荣镇迎宾路8号",
                    "location": {
                        "latitude": 40.258,
                        "longitude": 113.14,
                        "coordinate_system": "gcj02",
                    },
                    "facilities": ["heating", "water", "charging", "wifi"],
                    "hours": {"mon": [["08:00", "20:00"]], "sat": [["09:00", "17:00"]]},
                    "operator": {"kind": "office"},
                    "standard": {"has_sign": True, "has_space": True, "has_equipment": True},
                    "opened_on": "2026-11-30",
                }
            ]
        },
    )

    name: Name = Field(min_length=1, max_length=200)
    kind: StationKind
    region_code: RegionCode
    address: Text | None = Field(default=None, max_length=300)
    location: LocationIn
    facilities: list[Facility] = Field(default_factory=list, max_length=30)
    open_24h: StrictBool = False
    hours: Hours = Field(
        default_factory=dict,
        description='Weekly hours in Asia/Shanghai time: {"mon": [["08:00", "20:00"]], ...}',
    )
    operator: OperatorIn = Field(default_factory=lambda: OperatorIn(kind="office"))
    standard: StandardIn = Field(default_factory=StandardIn)
    opened_on: date | None = Field(default=None, description="Default: today (Asia/Shanghai)")

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "region_code": self.region_code,
            "address": self.address,
            "location": self.location.point(),
            "facilities": tuple(sorted(set(self.facilities))),
            "hours": OpeningHours.parse(self.open_24h, self.hours),
            "operator": self.operator.operator(),
            "standard": Standard(**self.standard.model_dump()),
            "opened_on": self.opened_on,
        }


class StationPatch(BaseModel):
    """A JSON merge patch of a station's facts (null is refused: each is required)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "address": "新荣镇迎宾路10号",
                    "open_24h": True,
                    "facilities": ["heating", "water", "toilet"],
                }
            ]
        },
    )

    name: Name | None = Field(default=None, min_length=1, max_length=200)
    kind: StationKind | None = None
    region_code: RegionCode | None = None
    address: Text | None = Field(default=None, max_length=300)
    location: LocationIn | None = None
    facilities: list[Facility] | None = Field(default=None, max_length=30)
    open_24h: StrictBool | None = None
    hours: Hours | None = None
    operator: OperatorIn | None = None
    standard: StandardIn | None = None
    opened_on: date | None = None

    def changes(self, current: Station) -> dict[str, Any]:
        given = self.model_fields_set
        nulls = sorted(f for f in given - {"address"} if getattr(self, f) is None)
        if nulls:
            raise InvalidInput(
                f"these fields cannot be cleared: {', '.join(nulls)}",
                errors=[FieldError(f, "must not be null") for f in nulls],
            )
        changes: dict[str, Any] = {
            name: getattr(self, name)
            for name in given & {"name", "kind", "region_code", "address", "opened_on"}
        }
        if self.location is not None:
            changes["location"] = self.location.point()
        if self.facilities is not None:
            changes["facilities"] = tuple(sorted(set(self.facilities)))
        if given & {"open_24h", "hours"}:
            # weekly hours given alone replace 24-hour opening
            open_24h = (self.hours is None and current.hours.open_24h) or bool(self.open_24h)
            hours = current.hours.as_dict() if self.hours is None else self.hours
            changes["hours"] = OpeningHours.parse(open_24h, hours)
        if self.operator is not None:
            changes["operator"] = self.operator.operator()
        if self.standard is not None:
            changes["standard"] = Standard(**self.standard.model_dump())
        return changes


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Text = Field(min_length=1, max_length=500)
    on: date | None = Field(default=None, description="Default: today (Asia/Shanghai)")


class OperatorOut(BaseModel):
    kind: OperatorKind
    id: str | None
    name: str | None = Field(description="As the registry announced it, when known")


class StandardOut(StandardIn):
    met: bool = Field(description="All three: 有标识、有场地、有设备")


_STATION_EXAMPLE: dict[str, Any] = {
    "id": "6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a",
    "name": "新荣镇迎宾路暖“新”驿站",
    "kind": "warm_new",
    "region_code": "140212101",
    "address": "新荣镇迎宾路8号",
    "latitude": 40.2567,
    "longitude": 113.134,
    "gcj02_latitude": 40.258,
    "gcj02_longitude": 113.14,
    "facilities": ["charging", "heating", "water", "wifi"],
    "open_24h": False,
    "hours": {"mon": [["08:00", "20:00"]], "sat": [["09:00", "17:00"]]},
    "operator": {"kind": "office", "id": None, "name": None},
    "standard": {
        "has_sign": True,
        "has_space": True,
        "has_equipment": True,
        "met": True,
    },
    "opened_on": "2026-11-30",
    "status": "open",
    "closed_on": None,
    "close_reason": None,
    "version": 1,
    "created_at": "2026-11-30T02:15:00Z",
    "updated_at": "2026-11-30T02:15:00Z",
}


class StationOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_STATION_EXAMPLE]})

    id: str
    name: str
    kind: StationKind
    region_code: str
    address: str | None
    latitude: float = Field(description="WGS-84")
    longitude: float = Field(description="WGS-84")
    gcj02_latitude: float = Field(description="The same point in GCJ-02, for Chinese map apps")
    gcj02_longitude: float
    facilities: list[str]
    open_24h: bool
    hours: dict[str, list[list[str]]]
    operator: OperatorOut
    standard: StandardOut
    opened_on: date
    status: StationStatus
    closed_on: date | None
    close_reason: str | None
    version: int
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, s: Station) -> StationOut:
        gcj = wgs84_to_gcj02(s.location)
        return cls(
            id=s.id,
            name=s.name,
            kind=s.kind,
            region_code=s.region_code,
            address=s.address,
            latitude=s.location.latitude,
            longitude=s.location.longitude,
            gcj02_latitude=gcj.latitude,
            gcj02_longitude=gcj.longitude,
            facilities=list(s.facilities),
            open_24h=s.hours.open_24h,
            hours=s.hours.as_dict(),
            operator=OperatorOut(kind=s.operator.kind, id=s.operator.id, name=s.operator_name),
            standard=StandardOut(
                has_sign=s.standard.has_sign,
                has_space=s.standard.has_space,
                has_equipment=s.standard.has_equipment,
                met=s.standard.met,
            ),
            opened_on=s.opened_on,
            status=s.status,
            closed_on=s.closed_on,
            close_reason=s.close_reason,
            version=s.version,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )


class StationPage(Page[StationOut]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [_STATION_EXAMPLE], "next_cursor": None, "next": None}]
        }
    )


class NearbyOut(StationOut):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_STATION_EXAMPLE, "distance_m": 182.4}]}
    )

    distance_m: float = Field(description="Great-circle distance from the point, metres")

    @classmethod
    def near(cls, nearby: Nearby) -> NearbyOut:
        return cls(
            **StationOut.of(nearby.station).model_dump(), distance_m=round(nearby.distance_m, 1)
        )


class NearestOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [{**_STATION_EXAMPLE, "distance_m": 182.4}]}]}
    )

    items: list[NearbyOut]


async def _visible(uow: StationsUnitOfWork, station_id: str, principal: Principal) -> Station:
    station = principal.visible(await service.get_station(uow, station_id), "station")
    return station


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Enter a station",
    responses=sends(201, etag=True, location=True),
)
async def open_station(
    body: StationIn, uow: Transaction, principal: Writer, response: Response
) -> StationOut:
    principal.ensure_covers(body.region_code)
    station = await service.open_station(uow, Actor.of(principal), **body.values())
    response.headers["Location"] = f"{router.prefix}/{station.id}"
    response.headers["ETag"] = etag(station.version)
    return StationOut.of(station)


@router.get("", summary="List the stations of a region subtree, with filters and a cursor")
async def list_stations(
    uow: ReadSession,
    principal: Reader,
    pages: Pages,
    region_code: RegionCodeQuery = None,
    kind: StationKind | None = None,
    station_status: Annotated[StationStatus | None, Query(alias="status")] = None,
    facility: Facility | None = None,
) -> StationPage:
    where = StationFilter(
        region_code=subtree_of(principal, region_code),
        kind=kind,
        status=station_status,
        facility=facility,
    )
    found = await service.list_stations(uow, where, after=pages.after(str, str), limit=pages.fetch)
    return StationPage.of(pages, found, key=lambda s: (s.region_code, s.id), item=StationOut.of)


@router.get("/nearest", summary="The k nearest open stations to a point, with distances")
async def list_nearest_stations(
    uow: ReadSession,
    principal: Reader,
    settings: SettingsDep,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lon: Annotated[float, Query(ge=-180, le=180)],
    k: Annotated[int, Query(ge=1, le=500)] = 5,
    facility: Facility | None = None,
    open_now: bool = False,
    coordinate_system: CoordinateSystem = "wgs84",
    max_distance_m: Annotated[float | None, Query(gt=0, le=1_000_000)] = None,
    region_code: RegionCodeQuery = None,
) -> NearestOut:
    if k > settings.nearest_max_k:
        raise InvalidInput(
            f"k is at most {settings.nearest_max_k}",
            errors=[FieldError("k", f"at most {settings.nearest_max_k}")],
        )
    now = utcnow()
    query = NearestQuery(
        point=to_wgs84(lat, lon, coordinate_system),
        k=k,
        region_code=subtree_of(principal, region_code),
        max_distance_m=max_distance_m or settings.nearest_max_distance_m,
        today=local_today(now),
        facility=facility,
        open_at=now if open_now else None,
    )
    found = await service.nearest_stations(uow, query)
    return NearestOut(items=[NearbyOut.near(n) for n in found])


@router.get("/{station_id}", summary="One station", responses=sends(etag=True))
async def read_station(
    station_id: Text, uow: ReadSession, principal: Reader, response: Response
) -> StationOut:
    station = await _visible(uow, station_id, principal)
    response.headers["ETag"] = etag(station.version)
    return StationOut.of(station)


@router.patch(
    "/{station_id}",
    summary="Change a station (JSON merge patch; If-Match required)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/merge-patch+json": {
                    "schema": {"$ref": "#/components/schemas/StationPatch"}
                }
            }
        }
    },
    responses=sends(etag=True),
)
async def change_station(
    station_id: Text,
    body: StationPatch,
    uow: Transaction,
    principal: Writer,
    response: Response,
    if_match: IfMatch = None,
) -> StationOut:
    current = await _visible(uow, station_id, principal)
    expected = expected_version(if_match)
    changes = body.changes(current)
    if "region_code" in changes:
        principal.ensure_covers(changes["region_code"])
    station = await service.change_station(
        uow, Actor.of(principal), station_id, changes, expected_version=expected
    )
    response.headers["ETag"] = etag(station.version)
    return StationOut.of(station)


@router.post(
    "/{station_id}/close", summary="Close a station (If-Match required)", responses=sends(etag=True)
)
async def close_station(
    station_id: Text,
    body: CloseIn,
    uow: Transaction,
    principal: Writer,
    response: Response,
    if_match: IfMatch = None,
) -> StationOut:
    await _visible(uow, station_id, principal)
    expected = expected_version(if_match)
    station = await service.close_station(
        uow,
        Actor.of(principal),
        station_id,
        on=body.on,
        reason=body.reason,
        expected_version=expected,
    )
    response.headers["ETag"] = etag(station.version)
    return StationOut.of(station)
