"""Settings of the stations service (environment prefix `PB_STATIONS_`)."""

from libs.common.settings import ServiceSettings


class StationsSettings(ServiceSettings):
    service_name: str = "stations"
    port: int = 8003
