"""SQL for the coverage projection: the only place that queries its tables."""

from __future__ import annotations

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

    async def upsert_organizations(self, facts: list[dict[str, Any]]) -> None:
        """Insert or update many organisations in one statement (the last word per id wins)."""
        if not facts:
            return
        now = utcnow()
        latest = {f["organization_id"]: {**f, "updated_at": now} for f in facts}
        dialect = self.session.bind.dialect.name if self.session.bind else "sqlite"
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = insert(organization_facts)
        statement = statement.on_conflict_do_update(
            index_elements=[organization_facts.c.organization_id],
            set_={
                c.name: statement.excluded[c.name]
                for c in organization_facts.columns
                if c.name != "organization_id"
            },
        )
        # executemany of one cached statement: SQLAlchemy batches it into multi-row INSERTs;
        # compiling a fresh many-row VALUES clause per batch cost ~40 ms on PostgreSQL
        await self.session.execute(statement, list(latest.values()))

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
