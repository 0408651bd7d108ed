"""Settings of the training service (environment prefix `PB_TRAINING_`)."""

from libs.common.settings import ServiceSettings


class TrainingSettings(ServiceSettings):
    service_name: str = "training"
    port: int = 8004
