"""Use cases of courses and study: courses, sessions, learners, enrolment with a waiting list,
attendance, external study, door-to-door deliveries, and a region's study-hours compliance."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from libs.common.audit import Actor
from libs.common.calendar import local_today
from libs.common.identity import IdentityKey
from libs.common.ids import new_id
from libs.common.refusals import Conflict, Invalid
from libs.common.tables import utcnow
from libs.common.validators import is_within
from services.training.domain.courses import (
    AttendanceMethod,
    Audience,
    Course,
    CourseFormat,
    CourseNotFound,
    DeliveryKind,
    EnrolmentStatus,
    Learner,
    LearnerNotFound,
    Role,
    Session,
    SessionNotFound,
    StudyRules,
    StudyStanding,
    check_attendance,
    check_class_hours,
    check_study,
    enrolment_status,
)
from services.training.domain.identity import Person
from services.training.store.uow import TrainingUnitOfWork


async def add_course(
    uow: TrainingUnitOfWork,
    actor: Actor,
    *,
    title: str,
    format: CourseFormat,
    audience: Audience,
    class_hours: float,
    region_code: str,
) -> Course:
    check_class_hours(class_hours)
    course = Course(new_id(), title, format, audience, class_hours, region_code)
    await uow.courses.add(course, utcnow())
    await uow.audit.record(
        actor,
        "course.added",
        entity_type="course",
        entity_id=course.id,
        region_code=region_code,
        changes={"title": title, "format": format, "class_hours": class_hours},
    )
    return course


async def courses_in(
    uow: TrainingUnitOfWork, region_code: str, *, after: tuple[datetime, str] | None, limit: int
) -> list[tuple[datetime, Course]]:
    """A page of the courses of a region's subtree, newest first, each with when it was added."""
    return await uow.courses.in_region(region_code, after=after, limit=limit)


async def sessions_of(
    uow: TrainingUnitOfWork,
    course_id: str,
    scope: str,
    *,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Session]:
    """A page of a course's sessions by start; `CourseNotFound` outside the caller's region."""
    course = await uow.courses.get(course_id)
    if course is None or not is_within(course.region_code, scope):
        raise CourseNotFound(course_id)
    return await uow.courses.sessions_of(course_id, after=after, limit=limit)


async def learners_in(
    uow: TrainingUnitOfWork,
    region_code: str,
    *,
    role: str | None,
    branch_id: str | None,
    organization_id: str | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[Learner]:
    """A page of the learners of a region's subtree."""
    return await uow.learners.find(
        region_code,
        role=role,
        branch_id=branch_id,
        organization_id=organization_id,
        after=after,
        limit=limit,
    )


async def add_session(
    uow: TrainingUnitOfWork,
    actor: Actor,
    *,
    course_id: str,
    starts_at: datetime,
    place: str | None,
    station_id: str | None,
    capacity: int,
) -> Session:
    course = await uow.courses.get(course_id)
    if course is None or not is_within(course.region_code, actor.region_code):
        raise CourseNotFound(course_id)
    if not place and not station_id:
        raise Invalid("place", "give a place or a station_id")
    session = Session(
        id=new_id(),
        course_id=course.id,
        region_code=course.region_code,
        starts_at=starts_at,
        place=place,
        station_id=station_id,
        capacity=capacity,
        code=secrets.token_hex(4),
        class_hours=course.class_hours,
    )
    await uow.courses.add_session(session, utcnow())
    await uow.audit.record(
        actor,
        "session.scheduled",
        entity_type="session",
        entity_id=session.id,
        region_code=session.region_code,
        changes={"course_id": course.id, "starts_at": starts_at.isoformat()},
    )
    return session


async def register_learner(
    uow: TrainingUnitOfWork,
    actor: Actor,
    key: IdentityKey,
    *,
    name: str,
    id_number: str,
    region_code: str,
    role: Role,
    branch_id: str | None,
    organization_id: str | None,
) -> Learner:
    person = Person.of(key, name, id_number)
    learner = Learner(
        id=new_id(),
        region_code=region_code,
        id_hash=person.id_hash,
        id_masked=person.id_masked,
        name_masked=person.name_masked,
        role=role,
        branch_id=branch_id,
        organization_id=organization_id,
    )
    if not await uow.learners.add(learner, utcnow()):
        raise Conflict(
            "this person is already a learner of the region", fields=[("id_number", "taken")]
        )
    await uow.audit.record(
        actor,
        "learner.registered",
        entity_type="learner",
        entity_id=learner.id,
        region_code=region_code,
        changes={"name": learner.name_masked, "role": role},
    )
    return learner


async def _session(uow: TrainingUnitOfWork, session_id: str, scope: str) -> Session:
    session = await uow.courses.get_session(session_id, for_update=True)
    if session is None or not is_within(session.region_code, scope):
        raise SessionNotFound(session_id)
    return session


async def _learner(uow: TrainingUnitOfWork, learner_id: str, scope: str) -> Learner:
    learner = await uow.learners.get(learner_id)
    if learner is None or not is_within(learner.region_code, scope):
        raise LearnerNotFound()
    return learner


@dataclass(frozen=True)
class Enrolment:
    session_id: str
    learner_id: str
    status: EnrolmentStatus
    position: int | None


async def enrol(
    uow: TrainingUnitOfWork, actor: Actor, *, session_id: str, learner_id: str
) -> Enrolment:
    """A seat while there is one, else a place on the waiting list (enrolling twice changes
    nothing)."""
    session = await _session(uow, session_id, actor.region_code)
    await _learner(uow, learner_id, actor.region_code)
    status = await uow.enrolments.status(session_id, learner_id)
    if status not in ("enrolled", "waiting"):
        taken = await uow.enrolments.seats_taken(session_id)
        status = enrolment_status(taken, session.capacity)
        await uow.enrolments.put(session_id, learner_id, status, utcnow())
    return await _enrolment(uow, session_id, learner_id, status)


async def _enrolment(
    uow: TrainingUnitOfWork, session_id: str, learner_id: str, status: EnrolmentStatus
) -> Enrolment:
    position = (
        await uow.enrolments.position(session_id, learner_id) if status == "waiting" else None
    )
    return Enrolment(session_id, learner_id, status, position)


async def withdraw(
    uow: TrainingUnitOfWork, actor: Actor, *, session_id: str, learner_id: str
) -> Enrolment | None:
    """Give up a seat (or a place in the queue); the first waiting takes the seat. Returns the
    enrolment of whoever moved up."""
    await _session(uow, session_id, actor.region_code)
    status = await uow.enrolments.status(session_id, learner_id)
    if status is None:
        raise LearnerNotFound()
    await uow.enrolments.set_status(session_id, learner_id, "cancelled")
    if status != "enrolled":
        return None
    following = await uow.enrolments.first_waiting(session_id)
    if following is None:
        return None
    await uow.enrolments.set_status(session_id, following, "enrolled")
    return Enrolment(session_id, following, "enrolled", None)


async def take_attendance(
    uow: TrainingUnitOfWork,
    actor: Actor,
    *,
    session_id: str,
    method: AttendanceMethod,
    learner_ids: Sequence[str],
    code: str | None,
    now: datetime,
) -> int:
    """Attendance by roster (many learners) or scanned code (one); the session's class hours
    count for each learner in the year of the session's date (Asia/Shanghai). Returns how many
    were newly recorded (taking it again changes nothing)."""
    session = await _session(uow, session_id, actor.region_code)
    statuses = await uow.enrolments.statuses(session_id, learner_ids)
    for learner_id in learner_ids:
        check_attendance(
            session,
            now,
            enrolled=statuses.get(learner_id) == "enrolled",
            method=method,
            code=code,
        )
    day = local_today(session.starts_at)
    who = await uow.learners.many(list(dict.fromkeys(learner_ids)))
    return await uow.study.record(
        [
            {
                "learner_id": learner_id,
                "year": day.year,
                "hours": session.class_hours,
                "studied_on": day,
                "session_id": session.id,
                "method": method,
            }
            for learner_id in dict.fromkeys(learner_ids)
        ],
        who,
        utcnow(),
    )


async def record_study(
    uow: TrainingUnitOfWork,
    actor: Actor,
    *,
    learner_id: str,
    hours: float,
    studied_on: date,
    description: str,
    today: date,
) -> float:
    """External study (a provincial online course, a study at the county school); returns the
    learner's hours of that year."""
    learner = await _learner(uow, learner_id, actor.region_code)
    check_study(hours, studied_on, today)
    await uow.study.record(
        [
            {
                "learner_id": learner_id,
                "year": studied_on.year,
                "hours": hours,
                "studied_on": studied_on,
                "session_id": None,
                "method": "external",
                "description": description,
            }
        ],
        {learner_id: learner},
        utcnow(),
    )
    return await uow.study.hours_of(learner_id, studied_on.year)


@dataclass(frozen=True)
class Compliance:
    region_code: str
    year: int
    members: int
    meeting: int
    hours_short: float
    short: list[StudyStanding]


async def study_hours(
    uow: TrainingUnitOfWork,
    rules: StudyRules,
    *,
    region_code: str,
    year: int,
    branch_id: str | None,
    limit: int,
) -> Compliance:
    members, meeting, missing, short = await uow.study.compliance(
        region_code, year, rules, branch_id=branch_id, limit=limit
    )
    return Compliance(region_code, year, members, meeting, missing, short)


async def record_delivery(
    uow: TrainingUnitOfWork,
    actor: Actor,
    *,
    region_code: str,
    kind: DeliveryKind,
    count: int,
    delivered_on: date,
    course_id: str | None,
    note: str | None,
    today: date,
) -> str:
    if delivered_on > today:
        raise Invalid("delivered_on", "is in the future")
    delivery_id = new_id()
    await uow.deliveries.add(
        {
            "id": delivery_id,
            "region_code": region_code,
            "kind": kind,
            "count": count,
            "delivered_on": delivered_on,
            "course_id": course_id,
            "note": note,
            "recorded_at": utcnow(),
        }
    )
    await uow.audit.record(
        actor,
        "delivery.recorded",
        entity_type="delivery",
        entity_id=delivery_id,
        region_code=region_code,
        changes={"kind": kind, "count": count},
    )
    return delivery_id


async def deliveries_in(uow: TrainingUnitOfWork, region_code: str, year: int) -> dict[str, int]:
    found = await uow.deliveries.totals(region_code, date(year, 1, 1), date(year + 1, 1, 1))
    return {"booklets": found.get("booklets", 0), "visits": found.get("visits", 0)}
