"""Wires the training service (no features yet: health, metrics, OpenAPI and its streams)."""

from pathlib import Path

from libs.common.service import ServiceDefinition
from services.training.settings import TrainingSettings
from services.training.store.tables import metadata


def definition(settings: TrainingSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        settings=settings or TrainingSettings(),
        title="Training",
        description="Courses, each branch's 三会一课 routine and the member-development pipeline.",
        metadata=metadata,
        migrations=Path(__file__).parent / "store" / "migrations",
    )
