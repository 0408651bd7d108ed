"""Settings of the stations service (environment prefix `PB_STATIONS_`)."""

from pydantic_settings import SettingsConfigDict

from libs.common.settings import ServiceSettings


class StationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="PB_STATIONS_", extra="ignore", populate_by_name=True
    )

    service_name: str = "stations"
    port: int = 8003
