"""Stations (驿站) for the new employment groups: what they are, what they offer, when they open.

Kinds: 暖新驿站 warm_new, 小哥驿站 courier, 骑手驿站 rider, 司机之家 driver_home, 工会驿站 union,
爱心驿站 love, 新就业群体党群服务中心 service_center / 服务站 service_station. The standard is
有标识、有场地、有设备 (a sign, a space, equipment). A station counts as open between its opening
and closing dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal

from libs.common.refusals import Invalid, NotFound, RuleBroken, Stale
from services.stations.domain.coordinates import Point, haversine_m
from services.stations.domain.hours import OpeningHours

StationKind = Literal[
    "warm_new",
    "courier",
    "rider",
    "driver_home",
    "union",
    "love",
    "service_center",
    "service_station",
]
Facility = Literal[
    "heating",
    "cooling",
    "water",
    "rest",
    "charging",
    "microwave",
    "umbrella",
    "toilet",
    "reading",
    "legal_advice",
    "health_check",
    "meals",
    "parking",
    "wifi",
    "first_aid",
    "medicine_kit",
    "repair_tools",
    "lockers",
]
#: Who runs a station: a registry organisation, a mass organisation (learned from the
#: registry's events), or the office itself.
OperatorKind = Literal["organization", "mass_organization", "office"]
StationStatus = Literal["open", "closed"]


class StationNotFound(NotFound):
    def __init__(self, station_id: str) -> None:
        super().__init__("station not found")
        self.station_id = station_id


class StaleStation(Stale):
    def __init__(self, station_id: str, expected: int | None, current: int) -> None:
        super().__init__(
            f"station {station_id} is at version {current}, not {expected}",
            expected=expected,
            current=current,
        )


class UnknownOperator(Invalid):
    """The operator named is not an organisation the stations service knows (or not active)."""


def station_rule(rule: str, message: str) -> RuleBroken:
    return RuleBroken(rule, message)


@dataclass(frozen=True)
class Standard:
    """有标识、有场地、有设备: a sign, a space, equipment."""

    has_sign: bool = False
    has_space: bool = False
    has_equipment: bool = False

    @property
    def met(self) -> bool:
        return self.has_sign and self.has_space and self.has_equipment


@dataclass(frozen=True)
class Operator:
    kind: OperatorKind
    id: str | None = None

    def check(self) -> None:
        if self.kind != "office" and not self.id:
            raise Invalid("operator.id", f"required for an operator of kind {self.kind}")
        if self.kind == "office" and self.id:
            raise Invalid("operator.id", "an office operator has no id")


@dataclass(frozen=True)
class Station:
    id: str
    name: str
    kind: StationKind
    region_code: str
    address: str | None
    location: Point
    cell: int
    facilities: tuple[str, ...]
    hours: OpeningHours
    operator: Operator
    standard: Standard
    opened_on: date
    status: StationStatus = "open"
    closed_on: date | None = None
    close_reason: str | None = None
    version: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None
    operator_name: str | None = field(default=None, compare=False)

    def is_open_on(self, day: date) -> bool:
        """Between its dates: opened on or before `day`, not closed by then."""
        return self.opened_on <= day and (self.closed_on is None or day < self.closed_on)

    def is_open_at(self, moment: datetime, today: date) -> bool:
        return self.status == "open" and self.is_open_on(today) and self.hours.is_open_at(moment)

    def snapshot(self) -> dict[str, Any]:
        """The station's editable facts, for the audit trail and for comparing versions."""
        return {
            "name": self.name,
            "kind": self.kind,
            "region_code": self.region_code,
            "address": self.address,
            "latitude": self.location.latitude,
            "longitude": self.location.longitude,
            "facilities": list(self.facilities),
            "open_24h": self.hours.open_24h,
            "hours": self.hours.as_dict(),
            "operator_kind": self.operator.kind,
            "operator_id": self.operator.id,
            "has_sign": self.standard.has_sign,
            "has_space": self.standard.has_space,
            "has_equipment": self.standard.has_equipment,
            "opened_on": self.opened_on.isoformat(),
        }


def changed_fields(before: Station, after: Station) -> list[str]:
    old, new = before.snapshot(), after.snapshot()
    return sorted(name for name in new if old[name] != new[name])


def check_open_for_change(station: Station, expected_version: int | None) -> None:
    if expected_version is not None and station.version != expected_version:
        raise StaleStation(station.id, expected_version, station.version)
    if station.status == "closed":
        raise station_rule("station_open", "a closed station cannot be changed")


def closed(station: Station, *, on: date, today: date, reason: str) -> Station:
    """The station closed on `on` (not before it opened, not in the future)."""
    if station.status == "closed":
        raise station_rule("station_open", "the station is already closed")
    if on < station.opened_on:
        raise station_rule("closing_date", "a station cannot close before it opened")
    if on > today:
        raise station_rule("closing_date", "a closing date cannot be in the future")
    return replace(station, status="closed", closed_on=on, close_reason=reason)


@dataclass(frozen=True)
class NearestQuery:
    """The k nearest open stations to a point, within `max_distance_m`, optionally with a
    facility and open at `moment`; only stations inside `region_code`'s subtree."""

    point: Point
    k: int
    region_code: str
    max_distance_m: float
    today: date
    facility: str | None = None
    open_at: datetime | None = None

    def admits(self, station: Station) -> bool:
        if station.status != "open" or not station.is_open_on(self.today):
            return False
        if self.facility is not None and self.facility not in station.facilities:
            return False
        return self.open_at is None or station.hours.is_open_at(self.open_at)


@dataclass(frozen=True)
class Nearby:
    station: Station
    distance_m: float


def nearest_of(query: NearestQuery, candidates: list[Station]) -> list[Nearby]:
    """The admitted candidates within the query's distance, nearest first (id breaks ties)."""
    found = [Nearby(s, haversine_m(query.point, s.location)) for s in candidates if query.admits(s)]
    found = [n for n in found if n.distance_m <= query.max_distance_m]
    found.sort(key=lambda n: (n.distance_m, n.station.id))
    return found


@dataclass(frozen=True)
class StationFilter:
    region_code: str
    kind: str | None = None
    status: str | None = None
    facility: str | None = None
