"""Wires the registry service: its settings, store, routes and events (the only place)."""

from pathlib import Path

from libs.common.service import ServiceDefinition
from services.registry import events  # noqa: F401 - registers the events in the catalogue
from services.registry.api import (
    audit,
    branches,
    imports,
    instructors,
    mass_organizations,
    members,
    mobile_members,
    organizations,
    provincial,
    regions,
)
from services.registry.handlers import consumers
from services.registry.service import provincial as provincial_payloads
from services.registry.settings import RegistrySettings
from services.registry.store import tables
from services.registry.store.uow import RegistryUnitOfWork
from services.registry.workers import (
    import_file_purge,
    import_worker,
    rectification_deadlines,
)


def definition(settings: RegistrySettings | None = None) -> ServiceDefinition:
    settings = settings or RegistrySettings()
    return ServiceDefinition(
        settings=settings,
        title="Registry",
        description="The ledger of organisations (一企一档), members and Party organisations.",
        metadata=tables.metadata,
        migrations=Path(__file__).parent / "store" / "migrations",
        routers=[
            organizations.router,
            imports.router,
            members.router,
            mobile_members.router,
            branches.router,
            instructors.router,
            mass_organizations.router,
            mass_organizations.collection,
            regions.router,
            provincial.router,
            audit.router,
        ],
        consumers=consumers(settings),
        workers=[
            import_worker(settings),
            import_file_purge(settings),
            rectification_deadlines(settings),
        ],
        unit_of_work=RegistryUnitOfWork,
        webhook_payloads={"provincial_profile": provincial_payloads.profile_payload(settings)},
    )
