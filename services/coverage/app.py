"""Wires the coverage service: its settings, store, routes and consumers (the only place)."""

from pathlib import Path

from libs.common.service import ServiceDefinition
from services.coverage.api.gaps import router as gaps
from services.coverage.api.projection import router as projection
from services.coverage.handlers import registry_events
from services.coverage.settings import CoverageSettings
from services.coverage.store.tables import metadata


def definition(settings: CoverageSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        settings=settings or CoverageSettings(),
        title="Coverage",
        description="The two coverage rates (两个覆盖), live, with the gap list behind them.",
        metadata=metadata,
        migrations=Path(__file__).parent / "store" / "migrations",
        routers=[projection, gaps],
        consumers=[registry_events],
    )
