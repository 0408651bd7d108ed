"""SQL for the coverage projection: the only place that queries its tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.tables import utcnow
from services.coverage.store.tables import organization_facts


class ProjectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_organization(
        self,
        *,
        organization_id: str,
        region_code: str,
        kind: str,
        industry_code: str | None,
        staff_count: int | None,
        registered_at: datetime,
    ) -> None:
        values: dict[str, Any] = {
            "organization_id": organization_id,
            "region_code": region_code,
            "kind": kind,
            "industry_code": industry_code,
            "staff_count": staff_count,
            "registered_at": registered_at,
            "updated_at": utcnow(),
        }
        dialect = self.session.bind.dialect.name if self.session.bind else "sqlite"
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = insert(organization_facts).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[organization_facts.c.organization_id],
            set_={k: statement.excluded[k] for k in values if k != "organization_id"},
        )
        await self.session.execute(statement)

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
