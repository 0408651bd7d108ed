"""Use cases of the registry service. They take a unit of work and never commit themselves."""

from __future__ import annotations

import uuid

from libs.common.db import UnitOfWork
from libs.common.logging import get_logger
from libs.common.tables import utcnow
from services.registry.domain.organizations import (
    DuplicateCreditCode,
    Organization,
    OrganizationKind,
)
from services.registry.events import OrganizationRegisteredV1
from services.registry.store.organizations import OrganizationRepository

log = get_logger(__name__)


async def register_organization(
    uow: UnitOfWork,
    *,
    credit_code: str,
    name: str,
    kind: OrganizationKind,
    region_code: str,
    industry_code: str | None = None,
    staff_count: int | None = None,
) -> Organization:
    """Enter an organisation in the ledger and announce it."""
    repo = OrganizationRepository(uow.session)
    existing = await repo.id_by_credit_code(credit_code)
    if existing is not None:
        raise DuplicateCreditCode(credit_code, existing)
    now = utcnow()
    organization = Organization(
        id=str(uuid.uuid4()),
        credit_code=credit_code,
        name=name,
        kind=kind,
        region_code=region_code,
        industry_code=industry_code,
        staff_count=staff_count,
        version=1,
        created_at=now,
        updated_at=now,
    )
    await repo.add(organization)
    log.info("organisation registered", organization_id=organization.id)
    uow.record(
        OrganizationRegisteredV1(
            organization_id=organization.id,
            credit_code=organization.credit_code,
            name=organization.name,
            kind=organization.kind,
            region_code=organization.region_code,
            industry_code=organization.industry_code,
            staff_count=organization.staff_count,
            registered_at=now,
        )
    )
    return organization


async def get_organization(uow: UnitOfWork, organization_id: str) -> Organization | None:
    return await OrganizationRepository(uow.session).get(organization_id)
