"""HTTP routes to inspect the coverage projection."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from libs.common.text import Text
from services.coverage.api.deps import Reader, ReadUnitOfWorkDep
from services.coverage.service import projection

router = APIRouter(prefix="/v1/projection", tags=["projection"])


class OrganizationFacts(BaseModel):
    organization_id: str
    region_code: str
    kind: str
    industry_code: str | None
    staff_count: int | None
    managed: bool = Field(description="In the ledger (false once deregistered)")
    operating_status: str
    three_haves: bool | None = Field(description="三有; null: not known")
    full_members: int
    probationary_members: int
    branch_id: str | None = Field(description="The branch it counts under on the projection's day")
    branch_kind: str | None
    instructor_count: int
    mass_organization_count: int
    registered_at: datetime
    deregistered_at: datetime | None
    updated_at: datetime


@router.get(
    "/organizations/{organization_id}",
    response_model=OrganizationFacts,
    summary="What coverage knows of one organisation",
)
async def read_projection(
    organization_id: Text, uow: ReadUnitOfWorkDep, principal: Reader
) -> OrganizationFacts:
    facts = await projection.organization(uow, organization_id)
    principal.ensure_visible(facts["region_code"], "organisation")
    return OrganizationFacts(**facts)
