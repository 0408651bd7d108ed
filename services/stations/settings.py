"""Settings of the stations service (environment prefix `PB_STATIONS_`)."""

from pydantic import Field

from libs.common.settings import ServiceSettings


class StationsSettings(ServiceSettings):
    service_name: str = "stations"
    port: int = 8003

    nearest_max_k: int = Field(default=50, ge=1, le=500, description="Most results of a search")
    nearest_max_distance_m: float = Field(
        default=50_000, gt=0, description="How far the nearest search looks by default (m)"
    )
