"""SQL for workers and their check-ins."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import insert, select, update

from libs.common.db import Repository, dialect_insert
from services.stations.domain.workers import CheckIn, Worker
from services.stations.store.tables import check_ins, workers

_COLUMNS = tuple(f.name for f in fields(Worker))


def _worker(row: Mapping[Any, Any]) -> Worker:
    values = {name: row[name] for name in _COLUMNS}
    values["roles"] = tuple(values["roles"] or ())
    return Worker(**values)


class WorkerRepository(Repository):
    async def get(self, worker_id: str, *, for_update: bool = False) -> Worker | None:
        row = await self.row_by_id(workers, worker_id, for_update=for_update)
        return _worker(row) if row else None

    async def id_by_phone_hash(self, phone_hash: str) -> str | None:
        found: str | None = (
            await self.session.execute(
                select(workers.c.id).where(workers.c.phone_hash == phone_hash)
            )
        ).scalar_one_or_none()
        return found

    async def add_if_new(self, worker: Worker) -> bool:
        """Insert unless the phone is already registered (race-safe); False when it was."""
        row = {**asdict(worker), "roles": list(worker.roles)}
        statement = (
            dialect_insert(self.session, workers)
            .values(row)
            .on_conflict_do_nothing(index_elements=[workers.c.phone_hash])
            .returning(workers.c.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def save(self, worker: Worker, *, expected_version: int) -> bool:
        row = {**asdict(worker), "roles": list(worker.roles)}
        result = await self.session.execute(
            update(workers)
            .where(workers.c.id == worker.id, workers.c.version == expected_version)
            .values(**{k: v for k, v in row.items() if k != "id"})
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def add_check_in(self, check_in: CheckIn) -> None:
        await self.session.execute(
            insert(check_ins), [{**asdict(check_in), "roles": list(check_in.roles)}]
        )
