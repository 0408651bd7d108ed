"""SQL for mass organisations (群团组织) in organisations."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, tuple_, update

from libs.common.db import Repository
from libs.common.subtree import within_region
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

    async def of_organization(
        self,
        organization_id: str,
        *,
        after: tuple[date, str] | None = None,
        limit: int | None = None,
    ) -> list[MassOrganization]:
        """An organisation's mass organisations by establishment (then id), after a cursor."""
        t = mass_organizations.c
        statement = select(mass_organizations).where(t.organization_id == organization_id)
        if after is not None:
            statement = statement.where(tuple_(t.established_on, t.id) > after)
        statement = statement.order_by(t.established_on, t.id)
        if limit is not None:
            statement = statement.limit(limit)
        rows = await self.session.execute(statement)
        return [mass_organization_of(row) for row in rows.mappings()]

    async def find(
        self,
        region_code: str,
        *,
        kind: str | None,
        active: bool | None,
        after: tuple[str, str] | None,
        limit: int,
    ) -> list[MassOrganization]:
        """A page of the mass organisations of a region's subtree, in (region_code, id) order
        after a keyset cursor."""
        t = mass_organizations.c
        statement = select(mass_organizations).where(within_region(t.region_code, region_code))
        if kind is not None:
            statement = statement.where(t.kind == kind)
        if active is not None:
            statement = statement.where(
                t.dissolved_on.is_(None) if active else t.dissolved_on.is_not(None)
            )
        if after is not None:
            statement = statement.where(tuple_(t.region_code, t.id) > after)
        rows = await self.session.execute(statement.order_by(t.region_code, t.id).limit(limit))
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
