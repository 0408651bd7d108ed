"""HTTP routes to inspect the coverage projection."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from libs.common.auth import Principal, Scope
from libs.common.problems import NotFound
from libs.common.service import UnitOfWorkDep
from services.coverage.store.projection import ProjectionRepository

router = APIRouter(prefix="/v1/projection", tags=["projection"])

Reader = Annotated[Principal, Depends(Scope("coverage:read"))]


class OrganizationFacts(BaseModel):
    organization_id: str
    region_code: str
    kind: str
    industry_code: str | None
    staff_count: int | None
    registered_at: datetime
    updated_at: datetime


@router.get(
    "/organizations/{organization_id}",
    response_model=OrganizationFacts,
    summary="What coverage knows of one organisation",
)
async def organization(
    organization_id: str, uow: UnitOfWorkDep, principal: Reader
) -> OrganizationFacts:
    facts = await ProjectionRepository(uow.session).organization(organization_id)
    if facts is None:
        raise NotFound("organisation not known to coverage")
    principal.ensure_visible(facts["region_code"], "organisation")
    return OrganizationFacts(**facts)
