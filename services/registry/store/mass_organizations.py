"""SQL for mass organisations (群团组织) in organisations."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from libs.common.db import Repository
from services.registry.domain.mass_organizations import MassOrganization
from services.registry.store.party_tables import mass_organizations

_COLUMNS = (
    "id",
    "organization_id",
    "region_code",
    "kind",
    "name",
    "established_on",
    "dissolved_on",
    "dissolution_reason",
)


def mass_organization_of(row: Mapping[Any, Any]) -> MassOrganization:
    return MassOrganization(**{c: row[c] for c in _COLUMNS})


class MassOrganizationRepository(Repository):
    async def add(self, mass_organization: MassOrganization, now: datetime) -> None:
        await self.session.execute(
            insert(mass_organizations).values(
                **{c: getattr(mass_organization, c) for c in _COLUMNS}, created_at=now
            )
        )

    async def get(self, mass_organization_id: str) -> MassOrganization | None:
        row = await self.row_by_id(mass_organizations, mass_organization_id)
        return mass_organization_of(row) if row else None

    async def of_organization(self, organization_id: str) -> list[MassOrganization]:
        rows = await self.session.execute(
            select(mass_organizations)
            .where(mass_organizations.c.organization_id == organization_id)
            .order_by(mass_organizations.c.established_on, mass_organizations.c.id)
        )
        return [mass_organization_of(row) for row in rows.mappings()]

    async def save_dissolution(self, mass_organization: MassOrganization) -> None:
        await self.session.execute(
            update(mass_organizations)
            .where(mass_organizations.c.id == mass_organization.id)
            .values(
                dissolved_on=mass_organization.dissolved_on,
                dissolution_reason=mass_organization.dissolution_reason,
            )
        )
