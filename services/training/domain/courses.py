"""Courses and study hours (党员教育): courses, sessions with a capacity and a waiting list,
attendance by roster or scanned code, and the yearly requirement of class hours per member
(32; 56 for branch secretaries and committee members, per the member education rules)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from libs.common.refusals import Invalid, NotFound, RuleBroken

CourseFormat = Literal[
    "theory",  # 理论课堂
    "practice",  # 实践课堂
    "interactive",  # 互动课堂
    "micro_lesson",  # 微党课
    "audio",
    "door_to_door",  # 送教上门
    "worker_class",  # 暖新课堂, 五小讲堂
    "instructor_training",  # 指导员履职培训
]
Audience = Literal["members", "workers", "instructors", "secretaries"]
Role = Literal["member", "secretary", "committee_member", "worker", "instructor"]
#: Roles of Party members, who owe class hours each year.
MEMBER_ROLES: tuple[Role, ...] = ("member", "secretary", "committee_member")
EnrolmentStatus = Literal["enrolled", "waiting", "cancelled"]
AttendanceMethod = Literal["roster", "scan"]
DeliveryKind = Literal["booklets", "visits"]


@dataclass(frozen=True)
class StudyRules:
    member_hours: float = 32
    leader_hours: float = 56  # branch secretaries and committee members

    def required(self, role: str) -> float:
        if role in ("secretary", "committee_member"):
            return self.leader_hours
        return self.member_hours if role == "member" else 0


@dataclass(frozen=True)
class Course:
    id: str
    title: str
    format: CourseFormat
    audience: Audience
    class_hours: float
    region_code: str


@dataclass(frozen=True)
class Session:
    id: str
    course_id: str
    region_code: str
    starts_at: datetime
    place: str | None
    station_id: str | None
    capacity: int
    code: str
    class_hours: float


@dataclass(frozen=True)
class Learner:
    """A person who studies: keyed hash and masked forms, the region and branch they belong to."""

    id: str
    region_code: str
    id_hash: str
    id_masked: str
    name_masked: str
    role: Role
    branch_id: str | None = None
    organization_id: str | None = None


class CourseNotFound(NotFound):
    def __init__(self, course_id: str) -> None:
        super().__init__(f"course {course_id} not found", context={"course_id": course_id})


class SessionNotFound(NotFound):
    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id} not found", context={"session_id": session_id})


class LearnerNotFound(Invalid):
    def __init__(self, field: str = "learner_id") -> None:
        super().__init__(field, "no such learner in your region")


def check_class_hours(hours: float, field: str = "class_hours") -> None:
    """Class hours come in halves (a 45-minute class hour, half for a micro-lesson)."""
    if hours <= 0 or hours * 2 != int(hours * 2):
        raise Invalid(field, "must be a positive multiple of 0.5")


def enrolment_status(enrolled: int, capacity: int) -> EnrolmentStatus:
    """A seat while there is one, the waiting list after."""
    return "enrolled" if enrolled < capacity else "waiting"


def check_attendance(
    session: Session,
    now: datetime,
    *,
    enrolled: bool,
    method: AttendanceMethod,
    code: str | None,
) -> None:
    """Attendance is taken once the session has begun, for enrolled learners; a scan carries the
    session's code (shown at the venue)."""
    if now < session.starts_at:
        raise RuleBroken(
            "attendance_after_start",
            f"session {session.id} begins at {session.starts_at.isoformat()}",
            context={"met_on": session.starts_at.date().isoformat()},
        )
    if method == "scan" and code != session.code:
        raise Invalid("code", "is not this session's code")
    if not enrolled:
        raise RuleBroken(
            "attendance_enrolled", "only learners with a seat in the session attend it"
        )


@dataclass(frozen=True)
class StudyStanding:
    """One member's year: class hours studied against the requirement of the role."""

    learner_id: str
    name_masked: str
    role: str
    branch_id: str | None
    hours: float
    required: float

    @property
    def short_by(self) -> float:
        return max(0.0, self.required - self.hours)


def check_study(hours: float, studied_on: date, today: date) -> None:
    check_class_hours(hours, "hours")
    if studied_on > today:
        raise Invalid("studied_on", "is in the future")
