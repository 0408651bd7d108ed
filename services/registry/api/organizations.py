"""HTTP routes for organisations in the ledger."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from libs.common.audit import Actor
from libs.common.errors import Conflict, FieldError, NotFound
from libs.common.fields import CreditCode, RegionCode
from libs.common.service import UnitOfWorkDep
from services.registry.api.deps import Reader, RulesDep, Writer
from services.registry.domain.organizations import (
    DuplicateCreditCode,
    Organization,
    OrganizationKind,
)
from services.registry.service import organizations as service

router = APIRouter(prefix="/v1/organizations", tags=["organizations"])


class OrganizationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    credit_code: CreditCode
    name: str = Field(min_length=1, max_length=200)
    kind: OrganizationKind
    region_code: RegionCode
    industry_code: str | None = Field(
        default=None, pattern=r"^[A-T](\d{2,4})?$", description="GB/T 4754 code, e.g. I6513 or G54"
    )
    staff_count: int | None = Field(default=None, ge=0, le=10_000_000)


class OrganizationOut(BaseModel):
    id: str
    credit_code: str
    name: str
    kind: OrganizationKind
    region_code: str
    industry_code: str | None
    staff_count: int | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, organization: Organization) -> OrganizationOut:
        return cls.model_validate(organization, from_attributes=True)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OrganizationOut,
    summary="Enter an organisation in the ledger",
)
async def register(
    body: OrganizationIn, uow: UnitOfWorkDep, principal: Writer, rules: RulesDep, response: Response
) -> OrganizationOut:
    principal.ensure_covers(body.region_code)
    try:
        organization = await service.register_organization(
            uow, Actor.of(principal), rules, **body.model_dump()
        )
    except DuplicateCreditCode as exc:
        raise Conflict(
            str(exc),
            errors=[FieldError("credit_code", "already registered")],
            extra={"existing_id": exc.existing_id},
        ) from exc
    response.headers["Location"] = f"{router.prefix}/{organization.id}"
    response.headers["ETag"] = f'"{organization.version}"'
    return OrganizationOut.of(organization)


@router.get("/{organization_id}", response_model=OrganizationOut, summary="One organisation's file")
async def read(
    organization_id: str, uow: UnitOfWorkDep, principal: Reader, response: Response
) -> OrganizationOut:
    organization = await service.get_organization(uow, organization_id)
    if organization is None:
        raise NotFound("organisation not found")
    principal.ensure_visible(organization.region_code, "organisation")
    response.headers["ETag"] = f'"{organization.version}"'
    return OrganizationOut.of(organization)
