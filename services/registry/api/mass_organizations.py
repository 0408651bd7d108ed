"""Mass organisations (群团组织: union, youth league, women's federation) in organisations."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from libs.common.audit import Actor
from libs.common.auth import Principal
from libs.common.http import RegionCodeQuery, subtree_of
from libs.common.pagination import Page, Pages
from libs.common.text import Name, Text
from services.registry.api.deps import Reader, ReadSession, Transaction, Writer
from services.registry.domain.mass_organizations import MassOrganization, MassOrganizationKind
from services.registry.service import RegistryUnitOfWork
from services.registry.service import mass_organizations as service
from services.registry.service.organizations import get_organization

router = APIRouter(prefix="/v1/organizations", tags=["mass organisations"])
#: The collection across organisations, at /v1/mass-organizations.
collection = APIRouter(prefix="/v1", tags=["mass organisations"])


class MassOrganizationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: MassOrganizationKind = Field(
        description="union 工会, youth_league 共青团, womens_federation 妇联"
    )
    name: Name | None = Field(default=None, max_length=200)
    established_on: date | None = Field(default=None, description="Default: today")


class MassOrganizationOut(BaseModel):
    id: str
    organization_id: str
    region_code: str
    kind: MassOrganizationKind
    name: str | None
    established_on: date
    dissolved_on: date | None
    dissolution_reason: str | None
    active: bool

    @classmethod
    def of(cls, mass_organization: MassOrganization) -> MassOrganizationOut:
        return cls.model_validate(mass_organization, from_attributes=True)


class MassOrganizationsOut(Page[MassOrganizationOut]):
    pass


class DissolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Text = Field(min_length=1, max_length=500)
    on: date | None = Field(default=None, description="Default: today")


async def _visible(uow: RegistryUnitOfWork, organization_id: str, principal: Principal) -> None:
    principal.visible(await get_organization(uow, organization_id), "organisation")


@router.post(
    "/{organization_id}/mass-organizations",
    status_code=status.HTTP_201_CREATED,
    response_model=MassOrganizationOut,
    summary="Set up a union, youth league or women's federation in an organisation",
)
async def establish_mass_organization(
    organization_id: Text, body: MassOrganizationIn, uow: Transaction, principal: Writer
) -> MassOrganizationOut:
    await _visible(uow, organization_id, principal)
    created = await service.establish(
        uow,
        Actor.of(principal),
        organization_id,
        kind=body.kind,
        name=body.name,
        established_on=body.established_on or date.today(),
    )
    return MassOrganizationOut.of(created)


@router.get(
    "/{organization_id}/mass-organizations",
    response_model=MassOrganizationsOut,
    summary="The mass organisations of an organisation, dissolved ones included",
)
async def list_organization_mass_organizations(
    organization_id: Text, uow: ReadSession, principal: Reader, pages: Pages
) -> MassOrganizationsOut:
    """By establishment date."""
    await _visible(uow, organization_id, principal)
    after = pages.after(date, str)
    found = await service.of_organization(
        uow,
        organization_id,
        after=None if after is None else (after[0], after[1]),
        limit=pages.fetch,
    )
    return MassOrganizationsOut.of(
        pages, found, key=lambda m: (m.established_on, m.id), item=MassOrganizationOut.of
    )


@collection.get(
    "/mass-organizations",
    response_model=MassOrganizationsOut,
    summary="The mass organisations of a region subtree, with filters and a cursor",
)
async def list_mass_organizations(
    uow: ReadSession,
    principal: Reader,
    pages: Pages,
    region_code: RegionCodeQuery = None,
    kind: MassOrganizationKind | None = None,
    active: Annotated[
        bool | None, Query(description="true: not dissolved; false: dissolved (default: both)")
    ] = None,
) -> MassOrganizationsOut:
    """In (region_code, id) order."""
    found = await service.list_mass_organizations(
        uow,
        subtree_of(principal, region_code),
        kind=kind,
        active=active,
        after=pages.after(str, str),
        limit=pages.fetch,
    )
    return MassOrganizationsOut.of(
        pages, found, key=lambda m: (m.region_code, m.id), item=MassOrganizationOut.of
    )


@router.post(
    "/{organization_id}/mass-organizations/{mass_organization_id}/dissolve",
    response_model=MassOrganizationOut,
    summary="Dissolve a mass organisation",
)
async def dissolve_mass_organization(
    organization_id: Text,
    mass_organization_id: Text,
    body: DissolveIn,
    uow: Transaction,
    principal: Writer,
) -> MassOrganizationOut:
    await _visible(uow, organization_id, principal)
    done = await service.dissolve(
        uow,
        Actor.of(principal),
        organization_id,
        mass_organization_id,
        reason=body.reason,
        on=body.on or date.today(),
    )
    return MassOrganizationOut.of(done)
