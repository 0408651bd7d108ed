"""SQL of the branch routine: branches as the registry announced them, meetings, lapses."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, update

from libs.common.db import Repository, insert_new, one_of
from services.training.domain.periods import Period
from services.training.domain.routine import BranchRoutine, Lapse, Meeting
from services.training.store.tables import branch_routines, meetings, routine_lapses


def _routine(row: Mapping[Any, Any]) -> BranchRoutine:
    return BranchRoutine(
        branch_id=row["branch_id"],
        kind=row["kind"],
        name=row["name"],
        region_code=row["region_code"],
        organization_ids=tuple(json.loads(row["organization_ids"])),
        formed_on=row["formed_on"],
        version=row["version"],
        dissolved_on=row["dissolved_on"],
        committee_since=row["committee_since"],
        groups_since=row["groups_since"],
        judged_through=row["judged_through"],
    )


def _row(routine: BranchRoutine, now: datetime) -> dict[str, Any]:
    return {
        "branch_id": routine.branch_id,
        "version": routine.version,
        "kind": routine.kind,
        "name": routine.name,
        "region_code": routine.region_code,
        "organization_ids": json.dumps(list(routine.organization_ids)),
        "formed_on": routine.formed_on,
        "dissolved_on": routine.dissolved_on,
        "committee_since": routine.committee_since,
        "groups_since": routine.groups_since,
        "judged_through": routine.judged_through or routine.formed_on,
        "updated_at": now,
    }


class RoutineRepository(Repository):
    async def get(self, branch_id: str, *, for_update: bool = False) -> BranchRoutine | None:
        statement = select(branch_routines).where(branch_routines.c.branch_id == branch_id)
        if for_update:
            statement = statement.with_for_update()
        row = (await self.session.execute(statement)).mappings().first()
        return _routine(row) if row else None

    async def many(self, branch_ids: Sequence[str]) -> dict[str, BranchRoutine]:
        if not branch_ids:
            return {}
        rows = await self.session.execute(
            select(branch_routines).where(
                one_of(self.session, branch_routines.c.branch_id, branch_ids)
            )
        )
        return {row["branch_id"]: _routine(row) for row in rows.mappings()}

    async def covering(self, organization_id: str, region_prefix: str) -> list[BranchRoutine]:
        """The live branches under `region_prefix` that cover `organization_id`."""
        c = branch_routines.c
        rows = await self.session.execute(
            select(branch_routines).where(
                c.region_code.startswith(region_prefix, autoescape=True),
                c.dissolved_on.is_(None),
                c.organization_ids.contains(json.dumps(organization_id), autoescape=True),
            )
        )
        found = [_routine(row) for row in rows.mappings()]
        return [r for r in found if organization_id in r.organization_ids]

    async def add_many(self, routines: Sequence[BranchRoutine], now: datetime) -> None:
        if routines:
            await self.session.execute(insert(branch_routines), [_row(r, now) for r in routines])

    async def save_many(self, routines: Sequence[BranchRoutine], now: datetime) -> None:
        """Write back branches already stored (all columns but the key)."""
        if not routines:
            return
        rows = [{"key": r.branch_id, **_row(r, now)} for r in routines]
        for row in rows:
            del row["branch_id"]
        values: dict[str, Any] = {name: bindparam(name) for name in rows[0] if name != "key"}
        await self.session.execute(
            update(branch_routines)
            .where(branch_routines.c.branch_id == bindparam("key"))
            .values(values),
            rows,
            execution_options={"synchronize_session": False},
        )

    async def due(self, through: date, limit: int) -> list[BranchRoutine]:
        """Branches with periods closing on or before `through` still to judge."""
        t = branch_routines
        rows = await self.session.execute(
            select(t)
            .where(
                t.c.judged_through < through,
                or_(t.c.dissolved_on.is_(None), t.c.judged_through < t.c.dissolved_on),
            )
            .order_by(t.c.judged_through, t.c.branch_id)
            .limit(limit)
        )
        return [_routine(row) for row in rows.mappings()]

    async def mark_judged(self, judged: Mapping[str, date]) -> None:
        if not judged:
            return
        await self.session.execute(
            update(branch_routines)
            .where(branch_routines.c.branch_id == bindparam("key"))
            .values(judged_through=bindparam("through")),
            [{"key": key, "through": through} for key, through in judged.items()],
            execution_options={"synchronize_session": False},
        )


class MeetingRepository(Repository):
    async def add(self, meeting: Meeting, now: datetime) -> None:
        await self.session.execute(
            insert(meetings).values(
                id=meeting.id,
                branch_id=meeting.branch_id,
                meeting_type=meeting.meeting_type,
                held_on=meeting.held_on,
                topic=meeting.topic,
                entitled=meeting.entitled,
                present=meeting.present,
                recorded_at=now,
            )
        )

    async def add_many(self, rows: Sequence[Meeting], now: datetime) -> None:
        if rows:
            await self.session.execute(
                insert(meetings),
                [
                    {
                        "id": m.id,
                        "branch_id": m.branch_id,
                        "meeting_type": m.meeting_type,
                        "held_on": m.held_on,
                        "topic": m.topic,
                        "entitled": m.entitled,
                        "present": m.present,
                        "recorded_at": now,
                    }
                    for m in rows
                ],
            )

    async def held(
        self, branch_ids: Sequence[str], since: date, before: date
    ) -> dict[str, dict[str, list[date]]]:
        """Per branch and meeting type, the days meetings were held in `[since, before)`: one
        row per (branch, type, day)."""
        t = meetings
        rows = await self.session.execute(
            select(t.c.branch_id, t.c.meeting_type, t.c.held_on)
            .where(one_of(self.session, t.c.branch_id, branch_ids))
            .where(t.c.held_on >= since, t.c.held_on < before)
            .distinct()
        )
        held: dict[str, dict[str, list[date]]] = {}
        for branch_id, meeting_type, held_on in rows:
            held.setdefault(branch_id, {}).setdefault(meeting_type, []).append(held_on)
        return held

    async def page_of(
        self,
        branch_id: str,
        *,
        meeting_type: str | None,
        after: tuple[date, str] | None,
        limit: int,
    ) -> list[Meeting]:
        """A page of a branch's meetings, latest first (then by id), after a keyset cursor."""
        t = meetings.c
        statement = select(
            t.id, t.branch_id, t.meeting_type, t.held_on, t.topic, t.entitled, t.present
        ).where(t.branch_id == branch_id)
        if meeting_type is not None:
            statement = statement.where(t.meeting_type == meeting_type)
        if after is not None:
            held_on, last_id = after
            statement = statement.where(
                or_(t.held_on < held_on, and_(t.held_on == held_on, t.id > last_id))
            )
        rows = await self.session.execute(statement.order_by(t.held_on.desc(), t.id).limit(limit))
        return [Meeting(*row) for row in rows]

    async def count(self, branch_id: str) -> int:
        return int(
            (
                await self.session.execute(
                    select(func.count()).where(meetings.c.branch_id == branch_id)
                )
            ).scalar_one()
        )


class LapseRepository(Repository):
    async def add_many(
        self, lapses: Sequence[Lapse], judged_on: date
    ) -> set[tuple[str, str, date]]:
        """Store new lapses (a period already stored is skipped); the keys really added."""
        rows: list[dict[str, Any]] = [
            {
                "branch_id": lapse.branch_id,
                "meeting_type": lapse.meeting_type,
                "frequency": lapse.period.frequency,
                "period_starts_on": lapse.period.starts_on,
                "judged_on": judged_on,
            }
            for lapse in lapses
        ]
        added = await insert_new(
            self.session,
            routine_lapses,
            rows,
            returning="id",
            unique=("branch_id", "meeting_type", "period_starts_on"),
        )
        if len(added) == len(rows):
            return {(r["branch_id"], r["meeting_type"], r["period_starts_on"]) for r in rows}
        found = await self.session.execute(
            select(
                routine_lapses.c.branch_id,
                routine_lapses.c.meeting_type,
                routine_lapses.c.period_starts_on,
            ).where(one_of(self.session, routine_lapses.c.id, sorted(added)))
        )
        return {(str(b), str(m), d) for b, m, d in found}

    async def outstanding(self, branch_id: str) -> list[Lapse]:
        t = routine_lapses
        rows = await self.session.execute(
            select(t.c.meeting_type, t.c.frequency, t.c.period_starts_on)
            .where(t.c.branch_id == branch_id, t.c.restored_on.is_(None))
            .order_by(t.c.period_starts_on)
        )
        return [
            Lapse(branch_id, meeting_type, Period(starts_on, frequency))
            for meeting_type, frequency, starts_on in rows
        ]

    async def restore(
        self, lapse: Lapse, *, restored_on: date, meeting_id: str, period_met: bool
    ) -> None:
        t = routine_lapses
        await self.session.execute(
            update(t)
            .where(
                and_(
                    t.c.branch_id == lapse.branch_id,
                    t.c.meeting_type == lapse.meeting_type,
                    t.c.period_starts_on == lapse.period.starts_on,
                )
            )
            .values(restored_on=restored_on, restored_by=meeting_id, period_met=period_met)
        )
