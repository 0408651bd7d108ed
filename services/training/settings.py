"""Settings of the training service (environment prefix `PB_TRAINING_`)."""

from pydantic_settings import SettingsConfigDict

from libs.common.settings import ServiceSettings


class TrainingSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="PB_TRAINING_", extra="ignore", populate_by_name=True
    )

    service_name: str = "training"
    port: int = 8004
