"""Subscribers of the stations service: the registry's organisation and mass-organisation events,
kept as the operators projection (who may run a station).

Each event type has its own tolerant model here (`extra="ignore"`), checked by the contract
tests against the registry's exported schemas. The registry's events carry each organisation's
version, so an older event arriving late never overwrites a newer state.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from libs.common.events import Envelope
from libs.common.inbox import ConsumerSpec, Handler
from libs.common.text import EventText
from services.stations.service import operators
from services.stations.store.uow import StationsUnitOfWork

registry_events = ConsumerSpec[StationsUnitOfWork](name="stations-registry", stream="PB_REGISTRY")


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore")


class OrganizationFile(_Tolerant):
    """What stations reads of `pb.registry.organization.registered.v1` and `.updated.v1`."""

    organization_id: str
    version: int = 1
    name: EventText = ""
    region_code: str
    operating_status: str = "operating"


class OrganizationDeregistered(_Tolerant):
    """What stations reads of `pb.registry.organization.deregistered.v1`."""

    organization_id: str
    version: int
    region_code: str


class MassOrganization(_Tolerant):
    """What stations reads of `pb.registry.massorg.established.v1` and `.dissolved.v1`."""

    mass_organization_id: str
    organization_id: str
    region_code: str
    kind: str


async def _organization(
    uow: StationsUnitOfWork, envelope: Envelope, event: OrganizationFile
) -> None:
    await operators.learn_organization(
        uow,
        organization_id=event.organization_id,
        version=event.version,
        name=event.name,
        region_code=event.region_code,
        operating_status=event.operating_status,
        at=envelope.time,
    )


class OrganizationImported(_Tolerant):
    """What stations reads of `pb.registry.organization.imported.v1`: an import's files."""

    registered: list[OrganizationFile] = Field(default_factory=list)
    updated: list[OrganizationFile] = Field(default_factory=list)


@registry_events.on("pb.registry.organization.imported.v1", OrganizationImported)
async def _imported(
    uow: StationsUnitOfWork, envelope: Envelope, event: OrganizationImported
) -> None:
    for organization in [*event.registered, *event.updated]:
        await _organization(uow, envelope, organization)


registry_events.on("pb.registry.organization.registered.v1", OrganizationFile)(_organization)
registry_events.on("pb.registry.organization.updated.v1", OrganizationFile)(_organization)
# A reactivated file is a newer version of the same organisation: it can operate stations again.
registry_events.on("pb.registry.organization.reactivated.v1", OrganizationFile)(_organization)


@registry_events.on("pb.registry.organization.deregistered.v1", OrganizationDeregistered)
async def _deregistered(
    uow: StationsUnitOfWork, envelope: Envelope, event: OrganizationDeregistered
) -> None:
    await operators.forget_organization(
        uow,
        organization_id=event.organization_id,
        version=event.version,
        region_code=event.region_code,
        at=envelope.time,
    )


def _mass_organization(active: bool) -> Handler[StationsUnitOfWork]:
    async def apply(uow: StationsUnitOfWork, envelope: Envelope, event: Any) -> None:
        await operators.learn_mass_organization(
            uow,
            mass_organization_id=event.mass_organization_id,
            organization_id=event.organization_id,
            region_code=event.region_code,
            kind=event.kind,
            active=active,
            at=envelope.time,
        )

    return apply


registry_events.on("pb.registry.massorg.established.v1", MassOrganization)(_mass_organization(True))
registry_events.on("pb.registry.massorg.dissolved.v1", MassOrganization)(_mass_organization(False))
