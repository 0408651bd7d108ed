"""SQL of the committees training learned from the registry (who may approve an admission)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from libs.common.db import Repository, upsert_many
from services.training.store.tables import committees


class CommitteeRepository(Repository):
    async def record(self, rows: Sequence[dict[str, Any]]) -> None:
        """Upsert the committees of a run of `committee.formed` events (a redelivery rewrites
        the same row)."""
        await upsert_many(self.session, committees, list(rows), key="committee_id")

    async def get(self, committee_id: str) -> dict[str, Any] | None:
        statement = select(committees).where(committees.c.committee_id == committee_id)
        row = (await self.session.execute(statement)).mappings().first()
        return dict(row) if row else None
