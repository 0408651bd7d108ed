"""Settings of the registry service (environment prefix `PB_REGISTRY_`)."""

from pydantic_settings import SettingsConfigDict

from libs.common.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="PB_REGISTRY_", extra="ignore", populate_by_name=True
    )

    service_name: str = "registry"
    port: int = 8001
