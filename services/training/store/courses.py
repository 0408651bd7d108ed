"""SQL of courses and study: courses, sessions, learners, enrolments, study hours, deliveries.

Compliance is answered by the database: class hours per learner and year are kept in
`study_totals` as records are written, and a region's standing is one grouped query over its
members, never a loop in Python."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, insert, literal, or_, select, tuple_, update

from libs.common.db import Repository, dialect_insert, insert_new
from libs.common.subtree import within_region
from services.training.domain.courses import (
    MEMBER_ROLES,
    Course,
    EnrolmentStatus,
    Learner,
    Session,
    StudyRules,
    StudyStanding,
)
from services.training.store.tables import (
    course_sessions,
    courses,
    deliveries,
    enrolments,
    learners,
    study_records,
    study_totals,
)


def _course(row: Mapping[Any, Any]) -> Course:
    return Course(**{k: row[k] for k in Course.__dataclass_fields__})


def _session(row: Mapping[Any, Any]) -> Session:
    return Session(**{k: row[k] for k in Session.__dataclass_fields__})


def _learner(row: Mapping[Any, Any]) -> Learner:
    return Learner(**{k: row[k] for k in Learner.__dataclass_fields__})


class CourseRepository(Repository):
    async def add(self, course: Course, now: datetime) -> None:
        await self.session.execute(insert(courses).values(**course.__dict__, created_at=now))

    async def get(self, course_id: str) -> Course | None:
        row = await self.row_by_id(courses, course_id)
        return _course(row) if row else None

    async def in_region(
        self, region_code: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[tuple[datetime, Course]]:
        """A page of the courses of a region's subtree, newest first (then by id), after a
        keyset cursor; each with when it was added (the page's key)."""
        t = courses.c
        statement = select(courses).where(within_region(t.region_code, region_code))
        if after is not None:
            added, last_id = after
            statement = statement.where(
                or_(t.created_at < added, and_(t.created_at == added, t.id > last_id))
            )
        rows = await self.session.execute(
            statement.order_by(t.created_at.desc(), t.id).limit(limit)
        )
        return [(r["created_at"], _course(r)) for r in rows.mappings()]

    async def add_session(self, session: Session, now: datetime) -> None:
        await self.session.execute(
            insert(course_sessions).values(**session.__dict__, created_at=now)
        )

    async def get_session(self, session_id: str, *, for_update: bool = False) -> Session | None:
        row = await self.row_by_id(course_sessions, session_id, for_update=for_update)
        return _session(row) if row else None

    async def sessions_of(
        self, course_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[Session]:
        """A page of a course's sessions by start (then id), after a keyset cursor."""
        t = course_sessions.c
        statement = select(course_sessions).where(t.course_id == course_id)
        if after is not None:
            starts, last_id = after
            statement = statement.where(
                or_(t.starts_at > starts, and_(t.starts_at == starts, t.id > last_id))
            )
        rows = await self.session.execute(statement.order_by(t.starts_at, t.id).limit(limit))
        return [_session(r) for r in rows.mappings()]


class LearnerRepository(Repository):
    async def find(
        self,
        region_code: str,
        *,
        role: str | None,
        branch_id: str | None,
        organization_id: str | None,
        after: tuple[str, str] | None,
        limit: int,
    ) -> list[Learner]:
        """A page of the learners of a region's subtree, in (region_code, id) order after a
        keyset cursor."""
        t = learners.c
        statement = select(learners).where(within_region(t.region_code, region_code))
        if role is not None:
            statement = statement.where(t.role == role)
        if branch_id is not None:
            statement = statement.where(t.branch_id == branch_id)
        if organization_id is not None:
            statement = statement.where(t.organization_id == organization_id)
        if after is not None:
            statement = statement.where(tuple_(t.region_code, t.id) > after)
        rows = await self.session.execute(statement.order_by(t.region_code, t.id).limit(limit))
        return [_learner(r) for r in rows.mappings()]

    async def add(self, learner: Learner, now: datetime) -> bool:
        """Register a learner; False when the person is already one in that region."""
        added = await insert_new(
            self.session,
            learners,
            [{**learner.__dict__, "created_at": now}],
            returning="id",
            unique=("region_code", "id_hash"),
        )
        return bool(added)

    async def by_person(self, region_code: str, id_hash: str) -> Learner | None:
        row = (
            (
                await self.session.execute(
                    select(learners).where(
                        learners.c.region_code == region_code, learners.c.id_hash == id_hash
                    )
                )
            )
            .mappings()
            .first()
        )
        return _learner(row) if row else None

    async def get(self, learner_id: str) -> Learner | None:
        row = await self.row_by_id(learners, learner_id)
        return _learner(row) if row else None

    async def many(self, learner_ids: Sequence[str]) -> dict[str, Learner]:
        if not learner_ids:
            return {}
        rows = await self.session.execute(
            select(learners).where(learners.c.id.in_(list(learner_ids)))
        )
        return {r["id"]: _learner(r) for r in rows.mappings()}


class EnrolmentRepository(Repository):
    async def seats_taken(self, session_id: str) -> int:
        return int(
            (
                await self.session.execute(
                    select(func.count()).where(
                        enrolments.c.session_id == session_id, enrolments.c.status == "enrolled"
                    )
                )
            ).scalar_one()
        )

    async def status(self, session_id: str, learner_id: str) -> EnrolmentStatus | None:
        found = (
            await self.session.execute(
                select(enrolments.c.status).where(
                    enrolments.c.session_id == session_id, enrolments.c.learner_id == learner_id
                )
            )
        ).scalar_one_or_none()
        return found

    async def statuses(self, session_id: str, learner_ids: Sequence[str]) -> dict[str, str]:
        rows = await self.session.execute(
            select(enrolments.c.learner_id, enrolments.c.status).where(
                enrolments.c.session_id == session_id,
                enrolments.c.learner_id.in_(list(learner_ids)),
            )
        )
        return {learner: status for learner, status in rows}

    async def put(self, session_id: str, learner_id: str, status: str, now: datetime) -> None:
        statement = dialect_insert(self.session, enrolments).values(
            session_id=session_id, learner_id=learner_id, status=status, created_at=now
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[enrolments.c.session_id, enrolments.c.learner_id],
                set_={"status": status, "created_at": now},
            )
        )

    async def position(self, session_id: str, learner_id: str) -> int:
        """1 for the first on the waiting list."""
        mine = (
            select(enrolments.c.id)
            .where(enrolments.c.session_id == session_id, enrolments.c.learner_id == learner_id)
            .scalar_subquery()
        )
        return int(
            (
                await self.session.execute(
                    select(func.count()).where(
                        enrolments.c.session_id == session_id,
                        enrolments.c.status == "waiting",
                        enrolments.c.id <= mine,
                    )
                )
            ).scalar_one()
        )

    async def first_waiting(self, session_id: str) -> str | None:
        found = (
            await self.session.execute(
                select(enrolments.c.learner_id)
                .where(enrolments.c.session_id == session_id, enrolments.c.status == "waiting")
                .order_by(enrolments.c.id)
                .limit(1)
            )
        ).scalar_one_or_none()
        return found

    async def set_status(self, session_id: str, learner_id: str, status: str) -> None:
        await self.session.execute(
            update(enrolments)
            .where(enrolments.c.session_id == session_id, enrolments.c.learner_id == learner_id)
            .values(status=status)
        )


LEADER_ROLES = ("secretary", "committee_member")


def _required(role: Any, rules: StudyRules) -> Any:
    return case(
        (role.in_(LEADER_ROLES), literal(rules.leader_hours)),
        else_=literal(rules.member_hours),
    )


class StudyRepository(Repository):
    async def record(
        self, rows: Sequence[Mapping[str, Any]], who: Mapping[str, Learner], now: datetime
    ) -> int:
        """Store study records (an attendance already taken is skipped) and add their hours to
        the yearly totals of each learner (`who`: the learners concerned); returns how many
        were new."""
        if not rows:
            return 0
        new = [dict(r, recorded_at=now) for r in rows]
        attended = [r for r in new if r.get("session_id")]
        external = [r for r in new if not r.get("session_id")]
        added: list[Mapping[str, Any]] = list(external)
        if external:
            await self.session.execute(insert(study_records), external)
        if attended:
            ids = await insert_new(
                self.session,
                study_records,
                attended,
                returning="learner_id",
                unique=("session_id", "learner_id"),
            )
            added += [r for r in attended if r["learner_id"] in ids]
        totals: dict[tuple[str, int], float] = {}
        for r in added:
            key = (r["learner_id"], r["year"])
            totals[key] = totals.get(key, 0.0) + r["hours"]
        if totals:
            statement = dialect_insert(self.session, study_totals)
            statement = statement.on_conflict_do_update(
                index_elements=[study_totals.c.learner_id, study_totals.c.year],
                set_={"hours": study_totals.c.hours + statement.excluded.hours},
            )
            await self.session.execute(
                statement,
                [
                    {
                        "learner_id": learner_id,
                        "year": year,
                        "region_code": who[learner_id].region_code,
                        "role": who[learner_id].role,
                        "hours": hours,
                    }
                    for (learner_id, year), hours in totals.items()
                ],
            )
        return len(added)

    async def compliance(
        self,
        region_code: str,
        year: int,
        rules: StudyRules,
        *,
        branch_id: str | None = None,
        limit: int = 100,
    ) -> tuple[int, int, float, list[StudyStanding]]:
        """(members, meeting the requirement, total hours short, the `limit` furthest short).

        Three range reads of covering indexes (members per role; the year's totals; the short),
        plus the members with no hours at all, leaders first, stopping at `limit`."""
        members_of = (
            select(learners.c.role, func.count())
            .where(within_region(learners.c.region_code, region_code))
            .where(learners.c.role.in_(MEMBER_ROLES))
            .group_by(learners.c.role)
        )
        t = study_totals
        required = _required(t.c.role, rules)
        of_year = [
            t.c.year == year,
            within_region(t.c.region_code, region_code),
            t.c.role.in_(MEMBER_ROLES),
        ]
        if branch_id is not None:
            members_of = members_of.where(learners.c.branch_id == branch_id)
            of_year.append(
                t.c.learner_id.in_(select(learners.c.id).where(learners.c.branch_id == branch_id))
            )
        by_role = {role: int(n) for role, n in await self.session.execute(members_of)}
        members = sum(by_role.values())
        owed = sum(n * rules.required(role) for role, n in by_role.items())
        meeting, studied = (
            await self.session.execute(
                select(
                    func.coalesce(func.sum(case((t.c.hours >= required, 1), else_=0)), 0),
                    func.coalesce(
                        func.sum(case((t.c.hours < required, t.c.hours), else_=required)), 0.0
                    ),
                ).where(*of_year)
            )
        ).one()
        short = await self._furthest_short(
            region_code, year, rules, branch_id, of_year, required, limit
        )
        return int(members), int(meeting), float(owed) - float(studied), short

    async def _furthest_short(
        self,
        region_code: str,
        year: int,
        rules: StudyRules,
        branch_id: str | None,
        of_year: list[Any],
        required: Any,
        limit: int,
    ) -> list[StudyStanding]:
        if limit == 0:
            return []
        t = study_totals
        found: list[StudyStanding] = []
        studied = (
            select(t.c.learner_id, t.c.hours, required.label("required"))
            .where(*of_year, t.c.hours < required)
            .order_by((required - t.c.hours).desc(), t.c.learner_id)
            .limit(limit)
            .subquery()
        )
        rows = await self.session.execute(
            select(
                learners.c.id,
                learners.c.name_masked,
                learners.c.role,
                learners.c.branch_id,
                studied.c.hours,
                studied.c.required,
            ).join(studied, studied.c.learner_id == learners.c.id)
        )
        found += [StudyStanding(i, n, r, b, float(h), float(q)) for i, n, r, b, h, q in rows]
        for roles in (LEADER_ROLES, ("member",)):
            none = (
                select(learners.c.id, learners.c.name_masked, learners.c.role, learners.c.branch_id)
                .where(within_region(learners.c.region_code, region_code))
                .where(learners.c.role.in_(roles))
                .where(
                    ~select(t.c.learner_id)
                    .where(t.c.learner_id == learners.c.id, t.c.year == year)
                    .exists()
                )
                .limit(limit)
            )
            if branch_id is not None:
                none = none.where(learners.c.branch_id == branch_id)
            idle = await self.session.execute(none)
            found += [StudyStanding(i, n, r, b, 0.0, rules.required(r)) for i, n, r, b in idle]
        found.sort(key=lambda s: (-s.short_by, s.learner_id))
        return found[:limit]

    async def hours_of(self, learner_id: str, year: int) -> float:
        found = (
            await self.session.execute(
                select(study_totals.c.hours).where(
                    study_totals.c.learner_id == learner_id, study_totals.c.year == year
                )
            )
        ).scalar_one_or_none()
        return float(found or 0.0)


class DeliveryRepository(Repository):
    async def add(self, row: Mapping[str, Any]) -> None:
        await self.session.execute(insert(deliveries).values(**row))

    async def totals(self, region_code: str, since: date, before: date) -> dict[str, int]:
        rows = await self.session.execute(
            select(deliveries.c.kind, func.sum(deliveries.c.count))
            .where(within_region(deliveries.c.region_code, region_code))
            .where(deliveries.c.delivered_on >= since, deliveries.c.delivered_on < before)
            .group_by(deliveries.c.kind)
        )
        return {kind: int(n) for kind, n in rows}
