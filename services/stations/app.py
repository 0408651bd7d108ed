"""Wires the stations service: settings, store, routes, consumers and workers (the only place)."""

from pathlib import Path

from libs.common.service import ServiceDefinition
from services.stations import events  # noqa: F401 - registers the events in the catalogue
from services.stations.api import points, requests, stations, visits, volunteer_tasks, workers
from services.stations.handlers import registry_events
from services.stations.settings import StationsSettings
from services.stations.store.tables import metadata
from services.stations.store.uow import StationsUnitOfWork
from services.stations.workers import sla_worker, visits_worker


def definition(settings: StationsSettings | None = None) -> ServiceDefinition:
    settings = settings or StationsSettings()
    return ServiceDefinition(
        settings=settings,
        title="Stations",
        description="Stations (驿站) for the new employment groups and the request loop.",
        metadata=metadata,
        migrations=Path(__file__).parent / "store" / "migrations",
        routers=[
            visits.router,  # before stations': /v1/stations/visit-stats is not a station id
            stations.router,
            requests.router,
            workers.router,
            points.router,
            volunteer_tasks.router,
        ],
        consumers=[registry_events],
        workers=[sla_worker(settings), visits_worker(settings)],
        unit_of_work=StationsUnitOfWork,
    )
