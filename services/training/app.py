"""Wires the training service: settings, store, routes, consumers and workers (the only place)."""

from pathlib import Path

from libs.common.service import ServiceDefinition
from services.training import events as _events  # noqa: F401 - registers training's events
from services.training.api import candidates, courses, routine
from services.training.handlers import registry_events
from services.training.settings import TrainingSettings
from services.training.store.tables import metadata
from services.training.store.uow import TrainingUnitOfWork
from services.training.workers import deadline_worker, routine_worker


def definition(settings: TrainingSettings | None = None) -> ServiceDefinition:
    settings = settings or TrainingSettings()
    return ServiceDefinition(
        settings=settings,
        title="Training",
        description="Courses, each branch's 三会一课 routine and the member-development pipeline.",
        metadata=metadata,
        migrations=Path(__file__).parent / "store" / "migrations",
        routers=[routine.router, candidates.router, courses.router],
        consumers=[registry_events],
        workers=[routine_worker(settings), deadline_worker(settings)],
        unit_of_work=TrainingUnitOfWork,
    )
