"""Use cases of mass organisations (群团组织): set one up in an organisation, dissolve it."""

from __future__ import annotations

import uuid
from datetime import date

from libs.common.audit import Actor
from libs.common.db import UnitOfWork
from libs.common.tables import utcnow
from services.registry.domain.mass_organizations import (
    MassOrganization,
    MassOrganizationKind,
    check_establish,
    dissolved,
)
from services.registry.domain.organizations import Organization, OrganizationNotFound
from services.registry.events import MassOrganizationDissolvedV1, MassOrganizationEstablishedV1
from services.registry.service.organizations import audit
from services.registry.store.mass_organizations import MassOrganizationRepository
from services.registry.store.organizations import OrganizationRepository


class MassOrganizationNotFound(Exception):
    def __init__(self, mass_organization_id: str) -> None:
        super().__init__(f"mass organisation {mass_organization_id} not found")


async def _organization(
    uow: UnitOfWork, organization_id: str, *, for_update: bool = False
) -> Organization:
    found = await OrganizationRepository(uow.session).get(organization_id, for_update=for_update)
    if found is None:
        raise OrganizationNotFound(organization_id)
    return found


async def establish(
    uow: UnitOfWork,
    actor: Actor,
    organization_id: str,
    *,
    kind: MassOrganizationKind,
    name: str | None,
    established_on: date,
) -> MassOrganization:
    # the organisation's row is locked: two requests cannot both set up its union
    organization = await _organization(uow, organization_id, for_update=True)
    store = MassOrganizationRepository(uow.session)
    check_establish(
        organization.id, organization.active, kind, await store.of_organization(organization.id)
    )
    mass_organization = MassOrganization(
        id=str(uuid.uuid4()),
        organization_id=organization.id,
        region_code=organization.region_code,
        kind=kind,
        name=name,
        established_on=established_on,
    )
    await store.add(mass_organization, utcnow())
    uow.record(
        MassOrganizationEstablishedV1(
            mass_organization_id=mass_organization.id,
            organization_id=organization.id,
            region_code=organization.region_code,
            kind=kind,
            established_on=established_on,
        )
    )
    await audit(uow).record(
        actor,
        "massorg.established",
        entity_type="mass_organization",
        entity_id=mass_organization.id,
        region_code=organization.region_code,
        changes={
            "organization_id": organization.id,
            "kind": kind,
            "name": name,
            "established_on": established_on,
        },
    )
    return mass_organization


async def of_organization(uow: UnitOfWork, organization_id: str) -> list[MassOrganization]:
    return await MassOrganizationRepository(uow.session).of_organization(organization_id)


async def dissolve(
    uow: UnitOfWork,
    actor: Actor,
    organization_id: str,
    mass_organization_id: str,
    *,
    reason: str,
    on: date,
) -> MassOrganization:
    await _organization(uow, organization_id, for_update=True)
    store = MassOrganizationRepository(uow.session)
    before = await store.get(mass_organization_id)
    if before is None or before.organization_id != organization_id:
        raise MassOrganizationNotFound(mass_organization_id)
    after = dissolved(before, on=on, reason=reason)
    await store.save_dissolution(after)
    uow.record(
        MassOrganizationDissolvedV1(
            mass_organization_id=after.id,
            organization_id=organization_id,
            region_code=after.region_code,
            kind=after.kind,
            dissolved_on=on,
        )
    )
    await audit(uow).record(
        actor,
        "massorg.dissolved",
        entity_type="mass_organization",
        entity_id=after.id,
        region_code=after.region_code,
        changes={"reason": reason, "dissolved_on": on},
    )
    return after
