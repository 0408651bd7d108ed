"""SQL for volunteer tasks and their participants."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, fields, replace
from typing import Any

from sqlalchemy import insert, select, tuple_, update

from libs.common.db import Repository
from libs.common.subtree import within_region
from services.stations.domain.volunteer_tasks import Participant, TaskFilter, VolunteerTask
from services.stations.store.tables import volunteer_participants, volunteer_tasks

_COLUMNS = tuple(f.name for f in fields(VolunteerTask) if f.name != "participants")
_PARTICIPANT = tuple(f.name for f in fields(Participant))


def _row(task: VolunteerTask) -> dict[str, Any]:
    return {name: getattr(task, name) for name in _COLUMNS}


def _task(row: Mapping[Any, Any]) -> VolunteerTask:
    return VolunteerTask(**{name: row[name] for name in _COLUMNS})


def _participant(row: Mapping[Any, Any]) -> Participant:
    return Participant(**{name: row[name] for name in _PARTICIPANT})


class VolunteerTaskRepository(Repository):
    async def get(self, task_id: str, *, for_update: bool = False) -> VolunteerTask | None:
        """The task alone; `for_update` locks its row, which every change of the task or of
        its participants takes first (so concurrent sign-ups never exceed its places; on
        SQLite the writer lock does the same)."""
        row = await self.row_by_id(volunteer_tasks, task_id, for_update=for_update)
        return _task(row) if row else None

    async def get_with_participants(
        self, task_id: str, *, for_update: bool = False
    ) -> VolunteerTask | None:
        task = await self.get(task_id, for_update=for_update)
        if task is None:
            return None
        return replace(task, participants=tuple(await self.participants_of(task_id)))

    async def participants_of(self, task_id: str) -> list[Participant]:
        t = volunteer_participants.c
        rows = (
            await self.session.execute(
                select(volunteer_participants)
                .where(t.task_id == task_id)
                .order_by(t.signed_up_at, t.worker_id)
            )
        ).mappings()
        return [_participant(row) for row in rows]

    async def participant(self, task_id: str, worker_id: str) -> Participant | None:
        t = volunteer_participants.c
        row = (
            (
                await self.session.execute(
                    select(volunteer_participants).where(
                        t.task_id == task_id, t.worker_id == worker_id
                    )
                )
            )
            .mappings()
            .first()
        )
        return _participant(row) if row else None

    async def add(self, task: VolunteerTask) -> None:
        await self.session.execute(insert(volunteer_tasks), [_row(task)])

    async def save(self, task: VolunteerTask, *, expected_version: int) -> bool:
        result = await self.session.execute(
            update(volunteer_tasks)
            .where(volunteer_tasks.c.id == task.id, volunteer_tasks.c.version == expected_version)
            .values(**{k: v for k, v in _row(task).items() if k != "id"})
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def add_participant(self, participant: Participant) -> None:
        await self.session.execute(insert(volunteer_participants), [asdict(participant)])

    async def save_participants(self, participants: Iterable[Participant]) -> None:
        t = volunteer_participants.c
        for p in participants:
            values = {k: v for k, v in asdict(p).items() if k not in ("task_id", "worker_id")}
            await self.session.execute(
                update(volunteer_participants)
                .where(t.task_id == p.task_id, t.worker_id == p.worker_id)
                .values(**values)
            )

    async def find(
        self, where: TaskFilter, *, after: tuple[str, str] | None, limit: int
    ) -> list[VolunteerTask]:
        t = volunteer_tasks.c
        statement = select(volunteer_tasks).where(within_region(t.region_code, where.region_code))
        if where.state is not None:
            statement = statement.where(t.state == where.state)
        if where.station_id is not None:
            statement = statement.where(t.station_id == where.station_id)
        if where.starts_after is not None:
            statement = statement.where(t.starts_at > where.starts_after)
        if after is not None:
            statement = statement.where(tuple_(t.region_code, t.id) > after)
        statement = statement.order_by(t.region_code, t.id).limit(limit)
        return [_task(row) for row in (await self.session.execute(statement)).mappings()]
