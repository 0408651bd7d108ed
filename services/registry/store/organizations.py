"""SQL for organisations: the only place that queries the organisations table."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.domain.organizations import Organization
from services.registry.store.tables import organizations


class OrganizationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, organization_id: str) -> Organization | None:
        row = (
            (
                await self.session.execute(
                    select(organizations).where(organizations.c.id == organization_id)
                )
            )
            .mappings()
            .first()
        )
        return Organization(**row) if row else None

    async def id_by_credit_code(self, credit_code: str) -> str | None:
        found: str | None = (
            await self.session.execute(
                select(organizations.c.id).where(organizations.c.credit_code == credit_code)
            )
        ).scalar_one_or_none()
        return found

    async def add(self, organization: Organization) -> None:
        await self.session.execute(insert(organizations).values(**asdict(organization)))
