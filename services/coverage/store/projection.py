"""SQL for the coverage projection: the only place that queries its tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db import upsert_many
from libs.common.tables import utcnow
from services.coverage.store.tables import organization_facts


class ProjectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_organizations(self, facts: list[dict[str, Any]]) -> None:
        """Insert or update many organisations at once (the last word per id wins)."""
        now = utcnow()
        await upsert_many(
            self.session,
            organization_facts,
            [{**f, "updated_at": now} for f in facts],
            key="organization_id",
        )

    async def organization(self, organization_id: str) -> dict[str, Any] | None:
        row = (
            (
                await self.session.execute(
                    select(organization_facts).where(
                        organization_facts.c.organization_id == organization_id
                    )
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None
