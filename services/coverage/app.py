"""Wires the coverage service: settings, store, routes, consumers and workers (the only place)."""

from pathlib import Path

from libs.common.service import ServiceDefinition
from services.coverage import events as _events  # noqa: F401 - registers coverage's events
from services.coverage.api.gaps import router as gaps
from services.coverage.api.projection import router as projection
from services.coverage.api.rates import router as rates
from services.coverage.api.targets import router as targets
from services.coverage.employment_recount import recount_command
from services.coverage.handlers import registry_events, training_events
from services.coverage.priority import lower_priority
from services.coverage.rebuild import rebuild_command
from services.coverage.settings import CoverageSettings
from services.coverage.station_handlers import station_events
from services.coverage.store.tables import metadata
from services.coverage.store.uow import CoverageUnitOfWork
from services.coverage.workers import (
    employment_check_worker,
    rates_changed_worker,
    snapshot_worker,
)


def definition(settings: CoverageSettings | None = None) -> ServiceDefinition:
    settings = settings or CoverageSettings()
    return ServiceDefinition(
        settings=settings,
        title="Coverage",
        description="The two coverage rates (两个覆盖), live, with the gap list behind them.",
        metadata=metadata,
        migrations=Path(__file__).parent / "store" / "migrations",
        routers=[projection, gaps, targets, rates],
        consumers=[registry_events, training_events, station_events],
        workers=[
            lower_priority(settings),
            snapshot_worker(settings),
            rates_changed_worker(settings),
            employment_check_worker(settings),
        ],
        unit_of_work=CoverageUnitOfWork,
        commands=[rebuild_command(settings), recount_command(settings)],
    )
