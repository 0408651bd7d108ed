"""Wires the stations service (no features yet: health, metrics, OpenAPI and its streams)."""

from pathlib import Path

from libs.common.service import ServiceDefinition
from services.stations.settings import StationsSettings
from services.stations.store.tables import metadata


def definition(settings: StationsSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        settings=settings or StationsSettings(),
        title="Stations",
        description="Service stations (驿站) for the new employment groups and the request loop.",
        metadata=metadata,
        migrations=Path(__file__).parent / "store" / "migrations",
    )
