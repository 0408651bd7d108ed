"""SQL for instructors (党建指导员) and their assignments to organisations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, tuple_, update

from libs.common.db import Repository, one_of
from libs.common.subtree import within_region
from services.registry.domain.instructors import Assignment, Instructor
from services.registry.store.party_tables import instructor_assignments, instructors

_ASSIGNMENT_COLUMNS = (
    "id",
    "instructor_id",
    "organization_id",
    "region_code",
    "starts_on",
    "ends_on",
    "ended_on",
)


def assignment_of(row: Mapping[Any, Any]) -> Assignment:
    return Assignment(**{c: row[c] for c in _ASSIGNMENT_COLUMNS})


class InstructorRepository(Repository):
    async def add(self, instructor: Instructor, now: datetime) -> None:
        await self.session.execute(
            insert(instructors).values(
                id=instructor.id,
                name=instructor.name,
                region_code=instructor.region_code,
                created_at=now,
            )
        )

    async def get(self, instructor_id: str, *, for_update: bool = False) -> Instructor | None:
        row = await self.row_by_id(instructors, instructor_id, for_update=for_update)
        return Instructor(row["id"], row["name"], row["region_code"]) if row else None

    async def find(
        self,
        region_code: str,
        *,
        organization_id: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> list[Instructor]:
        """A page of the instructors of a region's subtree (those with an assignment at
        `organization_id` not ended, if given), in (region_code, id) order after a cursor."""
        t = instructors.c
        statement = select(instructors).where(within_region(t.region_code, region_code))
        if organization_id is not None:
            a = instructor_assignments.c
            statement = statement.where(
                t.id.in_(
                    select(a.instructor_id)
                    .where(a.organization_id == organization_id)
                    .where(a.ended_on.is_(None))
                )
            )
        if after is not None:
            statement = statement.where(tuple_(t.region_code, t.id) > after)
        rows = await self.session.execute(statement.order_by(t.region_code, t.id).limit(limit))
        return [Instructor(r["id"], r["name"], r["region_code"]) for r in rows.mappings()]

    async def assignments_of_many(self, instructor_ids: Sequence[str]) -> list[Assignment]:
        """The assignments of each of several instructors, in one statement."""
        if not instructor_ids:
            return []
        a = instructor_assignments.c
        rows = await self.session.execute(
            select(instructor_assignments)
            .where(one_of(self.session, a.instructor_id, instructor_ids))
            .order_by(a.instructor_id, a.starts_on, a.id)
        )
        return [assignment_of(row) for row in rows.mappings()]

    async def assignments(self, instructor_id: str) -> list[Assignment]:
        rows = await self.session.execute(
            select(instructor_assignments)
            .where(instructor_assignments.c.instructor_id == instructor_id)
            .order_by(instructor_assignments.c.starts_on, instructor_assignments.c.id)
        )
        return [assignment_of(row) for row in rows.mappings()]

    async def running_at(self, organization_id: str) -> list[Assignment]:
        """The organisation's assignments not ended (those still to start included)."""
        rows = await self.session.execute(
            select(instructor_assignments)
            .where(instructor_assignments.c.organization_id == organization_id)
            .where(instructor_assignments.c.ended_on.is_(None))
            .order_by(instructor_assignments.c.id)
        )
        return [assignment_of(row) for row in rows.mappings()]

    async def end_assignments(self, batch: Sequence[Assignment]) -> None:
        if batch:
            await self.session.execute(
                update(instructor_assignments)
                .where(instructor_assignments.c.id == bindparam("_id"))
                .values(ended_on=bindparam("_ended")),
                [{"_id": a.id, "_ended": a.ended_on} for a in batch],
            )

    async def assignment(self, assignment_id: str) -> Assignment | None:
        row = await self.row_by_id(instructor_assignments, assignment_id)
        return assignment_of(row) if row else None

    async def add_assignment(self, assignment: Assignment, now: datetime) -> None:
        await self.session.execute(
            insert(instructor_assignments).values(
                **{c: getattr(assignment, c) for c in _ASSIGNMENT_COLUMNS}, created_at=now
            )
        )

    async def end_assignment(self, assignment: Assignment) -> None:
        await self.session.execute(
            update(instructor_assignments)
            .where(instructor_assignments.c.id == assignment.id)
            .values(ended_on=assignment.ended_on)
        )
