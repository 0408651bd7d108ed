"""Use cases of mass organisations (群团组织): set one up in an organisation, dissolve it."""

from __future__ import annotations

from datetime import date

from libs.common.audit import Actor
from libs.common.ids import new_id
from libs.common.personal import mask_personal
from libs.common.tables import utcnow
from services.registry.domain.mass_organizations import (
    MassOrganization,
    MassOrganizationKind,
    MassOrganizationNotFound,
    check_establish,
    dissolved,
)
from services.registry.domain.organizations import Organization, OrganizationNotFound, Rules
from services.registry.events import MassOrganizationDissolvedV1, MassOrganizationEstablishedV1
from services.registry.service.organizations import update_organization
from services.registry.store.uow import RegistryUnitOfWork


async def _locked_organization(uow: RegistryUnitOfWork, organization_id: str) -> Organization:
    # the organisation's row is locked: two requests cannot both set up its union
    found = await uow.organizations.get(organization_id, for_update=True)
    if found is None:
        raise OrganizationNotFound(organization_id)
    return found


async def establish(
    uow: RegistryUnitOfWork,
    actor: Actor,
    organization_id: str,
    *,
    kind: MassOrganizationKind,
    name: str | None,
    established_on: date,
) -> MassOrganization:
    organization = await _locked_organization(uow, organization_id)
    existing = await uow.mass_organizations.of_organization(organization.id)
    check_establish(organization.id, organization.active, kind, existing)
    mass_organization = MassOrganization(
        id=new_id(),
        organization_id=organization.id,
        region_code=organization.region_code,
        kind=kind,
        name=name,
        established_on=established_on,
    )
    await uow.mass_organizations.add(mass_organization, utcnow())
    await uow.record_and_audit(
        actor,
        MassOrganizationEstablishedV1(
            mass_organization_id=mass_organization.id,
            organization_id=organization.id,
            region_code=organization.region_code,
            kind=kind,
            established_on=established_on,
        ),
        entity_type="mass_organization",
        region_code=organization.region_code,
        extra={"name": name},
    )
    if not organization.ledger.mass_organizations:  # the data now shows the point (六清)
        await update_organization(
            uow,
            actor,
            Rules(),  # member counts do not change: no rule of theirs applies
            organization.id,
            {"ledger": {"mass_organizations": True}},
            action="organization.ledger_derived",
        )
    return mass_organization


async def of_organization(
    uow: RegistryUnitOfWork, organization_id: str, *, after: tuple[date, str] | None, limit: int
) -> list[MassOrganization]:
    """A page of an organisation's mass organisations, dissolved ones included."""
    return await uow.mass_organizations.of_organization(organization_id, after=after, limit=limit)


async def list_mass_organizations(
    uow: RegistryUnitOfWork,
    region_code: str,
    *,
    kind: str | None,
    active: bool | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[MassOrganization]:
    """A page of the mass organisations of a region's subtree."""
    return await uow.mass_organizations.find(
        region_code, kind=kind, active=active, after=after, limit=limit
    )


async def dissolve(
    uow: RegistryUnitOfWork,
    actor: Actor,
    organization_id: str,
    mass_organization_id: str,
    *,
    reason: str,
    on: date,
) -> MassOrganization:
    reason = mask_personal(reason)  # free text: what the audit log carries
    await _locked_organization(uow, organization_id)
    before = await uow.mass_organizations.get(mass_organization_id)
    if before is None or before.organization_id != organization_id:
        raise MassOrganizationNotFound(mass_organization_id)
    after = dissolved(before, on=on, reason=reason)
    await uow.mass_organizations.save_dissolution(after)
    await uow.record_and_audit(
        actor,
        MassOrganizationDissolvedV1(
            mass_organization_id=after.id,
            organization_id=organization_id,
            region_code=after.region_code,
            kind=after.kind,
            dissolved_on=on,
        ),
        entity_type="mass_organization",
        region_code=after.region_code,
        extra={"reason": reason},
    )
    return after
