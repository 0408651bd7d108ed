"""SQL for the operators projection: organisations and mass organisations from the registry."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select

from libs.common.db import Repository, dialect_insert
from services.stations.domain.operators import KnownOperator
from services.stations.store.tables import operators


class OperatorRepository(Repository):
    async def get(self, operator_id: str) -> KnownOperator | None:
        row = await self.row_by_id(operators, operator_id)
        return KnownOperator(**{k: v for k, v in row.items() if k != "updated_at"}) if row else None

    async def get_many(self, ids: Iterable[str]) -> dict[str, KnownOperator]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        rows = (
            await self.session.execute(select(operators).where(operators.c.id.in_(wanted)))
        ).mappings()
        return {
            row["id"]: KnownOperator(**{k: v for k, v in row.items() if k != "updated_at"})
            for row in rows
        }

    async def put(self, operator: KnownOperator, at: datetime) -> None:
        """Insert or update, unless what is stored is of a later version (out-of-order events)."""
        row: dict[str, Any] = {**asdict(operator), "updated_at": at}
        statement = dialect_insert(self.session, operators).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=[operators.c.id],
            set_={k: statement.excluded[k] for k in row if k != "id"},
            where=operators.c.version <= statement.excluded.version,
        )
        await self.session.execute(statement)
