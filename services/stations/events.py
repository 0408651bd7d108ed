"""The events the stations service publishes. It owns their schemas (see docs/events/).

No event carries a person's name, ID number or phone: workers appear by opaque id or keyed hash.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from libs.common.events import IntegrationEvent, catalogue

PRODUCER = "stations"


class StationState(IntegrationEvent):
    """The facts of one station every station event carries (its state after it)."""

    station_id: str
    version: int = Field(default=1, ge=1, description="Version of the station after this")
    name: str = Field(description="The station's name (a place, not a person)")
    kind: str = Field(description="warm_new, courier, rider, driver_home, union, love, ...")
    region_code: str = Field(description="Statistical division code (2 to 12 digits)")
    latitude: float = Field(ge=-90, le=90, description="WGS-84")
    longitude: float = Field(ge=-180, le=180, description="WGS-84")
    facilities: list[str] = Field(default_factory=list)
    open_24h: bool = False
    operator_kind: str = Field(description="organization, mass_organization or office")
    operator_id: str | None = Field(default=None, description="The registry's id, if any")
    meets_standard: bool = Field(description="有标识、有场地、有设备: sign, space and equipment")
    opened_on: date


@catalogue.register(
    "pb.stations.station.opened", version=1, producer=PRODUCER, subject_field="station_id"
)
class StationOpenedV1(StationState):
    """Emitted when a station is entered (it counts as open from `opened_on`)."""

    opened_at: datetime


@catalogue.register(
    "pb.stations.station.changed", version=1, producer=PRODUCER, subject_field="station_id"
)
class StationChangedV1(StationState):
    """Emitted when a station's facts change (facilities, hours, place, operator, standard)."""

    changed: list[str] = Field(description="Names of the fields that changed")
    changed_at: datetime


@catalogue.register(
    "pb.stations.station.closed", version=1, producer=PRODUCER, subject_field="station_id"
)
class StationClosedV1(IntegrationEvent):
    """Emitted when a station closes; it counts until `closed_on` (exclusive)."""

    station_id: str
    version: int = Field(ge=1)
    region_code: str
    closed_on: date
    reason: str
