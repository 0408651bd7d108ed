"""SQL for workers and their check-ins."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import insert, select, tuple_, update

from libs.common.db import Repository, dialect_insert
from libs.common.subtree import within_region
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

    async def find(
        self,
        region_code: str,
        *,
        occupation: str | None = None,
        community_code: str | None = None,
        checked_in: bool | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> list[Worker]:
        """A page of the workers of a region's subtree, in (region_code, id) order after a
        keyset cursor (`ix_workers_region_code_id`)."""
        t = workers.c
        statement = select(workers).where(within_region(t.region_code, region_code))
        if occupation is not None:
            statement = statement.where(t.occupation == occupation)
        if community_code is not None:
            statement = statement.where(within_region(t.community_code, community_code))
        if checked_in is not None:
            statement = statement.where(
                t.checked_in_on.is_not(None) if checked_in else t.checked_in_on.is_(None)
            )
        if after is not None:
            statement = statement.where(tuple_(t.region_code, t.id) > after)
        rows = await self.session.execute(statement.order_by(t.region_code, t.id).limit(limit))
        return [_worker(row) for row in rows.mappings()]

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
