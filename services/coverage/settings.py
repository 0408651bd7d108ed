"""Settings of the coverage service (environment prefix `PB_COVERAGE_`)."""

from pydantic_settings import SettingsConfigDict

from libs.common.settings import ServiceSettings


class CoverageSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="PB_COVERAGE_", extra="ignore", populate_by_name=True
    )

    service_name: str = "coverage"
    port: int = 8002
