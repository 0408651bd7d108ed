"""Courses and study hours: courses and their sessions, learners, enrolment with a waiting list,
attendance by roster or scanned code, external study, door-to-door deliveries, and a region's
compliance with the yearly class hours (who meets it, who is short and by how much)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from libs.common.audit import Actor
from libs.common.fields import RegionCode
from libs.common.http import RegionCodeQuery, subtree_of
from libs.common.pagination import Page, Pages
from libs.common.tables import utcnow
from libs.common.text import FreeText, Name, Text
from services.training.api.deps import (
    IdentityKeyDep,
    Reader,
    ReadSession,
    StudyRulesDep,
    Today,
    Transaction,
    Writer,
)
from services.training.domain.courses import (
    Audience,
    Course,
    CourseFormat,
    DeliveryKind,
    EnrolmentStatus,
    Role,
)
from services.training.service import courses as service
from services.training.service.courses import Enrolment

router = APIRouter(prefix="/v1", tags=["courses"])


class CourseIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "title": "学习贯彻党的二十届四中全会精神",
                    "format": "micro_lesson",
                    "audience": "members",
                    "class_hours": 1.5,
                    "region_code": "140212",
                }
            ]
        },
    )

    title: Name = Field(min_length=1, max_length=200)
    format: CourseFormat = Field(
        description="theory 理论课堂, practice 实践课堂, interactive 互动课堂, "
        "micro_lesson 微党课, audio, door_to_door 送教上门, worker_class 暖新课堂/五小讲堂, "
        "instructor_training 指导员履职培训"
    )
    audience: Audience
    class_hours: StrictFloat = Field(gt=0, le=200, description="Class hours (学时), in halves")
    region_code: RegionCode


_COURSE_EXAMPLE: dict[str, Any] = {
    "id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    "title": "学习贯彻党的二十届四中全会精神",
    "format": "micro_lesson",
    "audience": "members",
    "class_hours": 1.5,
    "region_code": "140212",
}


class CourseOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_COURSE_EXAMPLE]})

    id: str
    title: str
    format: CourseFormat
    audience: Audience
    class_hours: float
    region_code: str

    @classmethod
    def of(cls, course: Course) -> CourseOut:
        return cls.model_validate(course, from_attributes=True)


class SessionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "starts_at": "2026-12-05T14:30:00+08:00",
                    "place": "新荣镇党群服务中心",
                    "capacity": 40,
                }
            ]
        },
    )

    starts_at: AwareDatetime
    place: Text | None = Field(default=None, max_length=200)
    station_id: Text | None = Field(default=None, description="A station of the stations service")
    capacity: StrictInt = Field(ge=1, le=100_000)


class SessionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "7b6a5f4e-3d2c-4b1a-9f8e-7d6c5b4a3f2e",
                    "course_id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                    "region_code": "140212",
                    "starts_at": "2026-12-05T06:30:00Z",
                    "place": "新荣镇党群服务中心",
                    "station_id": None,
                    "capacity": 40,
                    "class_hours": 1.5,
                    "code": "K7Q2M9",
                }
            ]
        }
    )

    id: str
    course_id: str
    region_code: str
    starts_at: datetime
    place: str | None
    station_id: str | None
    capacity: int
    class_hours: float
    code: str = Field(description="The code learners scan at the venue to sign in")


class LearnerIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "赵丽",
                    "id_number": "14021219950101002X",
                    "region_code": "140212101",
                    "role": "member",
                    "branch_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                }
            ]
        },
    )

    name: Name = Field(min_length=1, max_length=50, description="Kept masked only (张**)")
    id_number: Text = Field(min_length=15, max_length=20, description="Kept as a keyed hash")
    region_code: RegionCode
    role: Role = Field(description="member, secretary, committee_member (owe hours), worker, ...")
    branch_id: Text | None = None
    organization_id: Text | None = None


class LearnerOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "3c2b1a0f-9e8d-4c7b-a6f5-4e3d2c1b0a9f",
                    "region_code": "140212101",
                    "name_masked": "赵*",
                    "id_masked": "140212********002X",
                    "role": "member",
                    "branch_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                    "organization_id": None,
                }
            ]
        }
    )

    id: str
    region_code: str
    name_masked: str
    id_masked: str
    role: Role
    branch_id: str | None
    organization_id: str | None


class EnrolmentIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"learner_id": "3c2b1a0f-9e8d-4c7b-a6f5-4e3d2c1b0a9f"}]},
    )

    learner_id: Text


class EnrolmentOut(BaseModel):
    session_id: str
    learner_id: str
    status: EnrolmentStatus
    position: int | None = Field(description="Place on the waiting list (1 is next)")

    @classmethod
    def of(cls, e: Enrolment) -> EnrolmentOut:
        return cls(
            session_id=e.session_id, learner_id=e.learner_id, status=e.status, position=e.position
        )


class AttendanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["roster", "scan"]
    learner_ids: list[Text] = Field(default_factory=list, max_length=10_000, description="roster")
    learner_id: Text | None = Field(default=None, description="scan: who scanned")
    code: Text | None = Field(default=None, max_length=16, description="scan: the session's code")


class AttendanceOut(BaseModel):
    session_id: str
    recorded: int


class StudyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    hours: StrictFloat = Field(gt=0, le=200)
    studied_on: date
    description: FreeText = Field(min_length=1, max_length=500)


class StudyOut(BaseModel):
    learner_id: str
    year: int
    hours: float


class ShortOut(BaseModel):
    learner_id: str
    name_masked: str
    role: str
    branch_id: str | None
    hours: float
    required: float
    short_by: float


class StudyHoursOut(BaseModel):
    region_code: str
    year: int
    members: int
    meeting: int
    short_count: int
    hours_short: float
    short: list[ShortOut] = Field(description="The members furthest short, up to `limit`")


class DeliveryIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    region_code: RegionCode
    kind: DeliveryKind = Field(description="booklets handed out, or visits made (送教上门)")
    count: StrictInt = Field(ge=1, le=1_000_000)
    delivered_on: date
    course_id: Text | None = None
    note: FreeText | None = Field(default=None, max_length=500)


class DeliveriesOut(BaseModel):
    region_code: str
    year: int
    booklets: int
    visits: int


@router.post("/courses", status_code=status.HTTP_201_CREATED, summary="Offer a course")
async def add_course(body: CourseIn, uow: Transaction, principal: Writer) -> CourseOut:
    principal.ensure_covers(body.region_code)
    course = await service.add_course(
        uow,
        Actor.of(principal),
        title=body.title,
        format=body.format,
        audience=body.audience,
        class_hours=body.class_hours,
        region_code=body.region_code,
    )
    return CourseOut.of(course)


class CoursePage(Page[CourseOut]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [_COURSE_EXAMPLE], "next_cursor": None, "next": None}]
        }
    )


@router.get("/courses", summary="Courses of a region subtree, newest first")
async def list_courses(
    uow: ReadSession, principal: Reader, pages: Pages, region_code: RegionCodeQuery = None
) -> CoursePage:
    after = pages.after(datetime, str)
    found = await service.courses_in(
        uow,
        subtree_of(principal, region_code),
        after=None if after is None else (after[0], after[1]),
        limit=pages.fetch,
    )
    return CoursePage.of(
        pages, found, key=lambda f: (f[0], f[1].id), item=lambda f: CourseOut.of(f[1])
    )


@router.post(
    "/courses/{course_id}/sessions",
    status_code=status.HTTP_201_CREATED,
    summary="Schedule a session of a course",
)
async def add_session(
    course_id: Text, body: SessionIn, uow: Transaction, principal: Writer
) -> SessionOut:
    session = await service.add_session(
        uow,
        Actor.of(principal),
        course_id=course_id,
        starts_at=body.starts_at,
        place=body.place,
        station_id=body.station_id,
        capacity=body.capacity,
    )
    return SessionOut.model_validate(session, from_attributes=True)


class SessionPage(Page[SessionOut]):
    pass


@router.get("/courses/{course_id}/sessions", summary="A course's sessions, by start")
async def list_sessions(
    course_id: Text, uow: ReadSession, principal: Reader, pages: Pages
) -> SessionPage:
    after = pages.after(datetime, str)
    found = await service.sessions_of(
        uow,
        course_id,
        principal.region_code,
        after=None if after is None else (after[0], after[1]),
        limit=pages.fetch,
    )
    return SessionPage.of(
        pages,
        found,
        key=lambda s: (s.starts_at, s.id),
        item=lambda s: SessionOut.model_validate(s, from_attributes=True),
    )


@router.post("/learners", status_code=status.HTTP_201_CREATED, summary="Register a learner")
async def register_learner(
    body: LearnerIn, uow: Transaction, principal: Writer, key: IdentityKeyDep
) -> LearnerOut:
    principal.ensure_covers(body.region_code)
    learner = await service.register_learner(
        uow,
        Actor.of(principal),
        key,
        name=body.name,
        id_number=body.id_number,
        region_code=body.region_code,
        role=body.role,
        branch_id=body.branch_id,
        organization_id=body.organization_id,
    )
    return LearnerOut.model_validate(learner, from_attributes=True)


class LearnerPage(Page[LearnerOut]):
    pass


@router.get("/learners", summary="The learners of a region subtree (masked), with filters")
async def list_learners(
    uow: ReadSession,
    principal: Reader,
    pages: Pages,
    region_code: RegionCodeQuery = None,
    role: Role | None = None,
    branch_id: Annotated[Text | None, Query(max_length=64)] = None,
    organization_id: Annotated[Text | None, Query(max_length=64)] = None,
) -> LearnerPage:
    """In (region_code, id) order."""
    found = await service.learners_in(
        uow,
        subtree_of(principal, region_code),
        role=role,
        branch_id=branch_id,
        organization_id=organization_id,
        after=pages.after(str, str),
        limit=pages.fetch,
    )
    return LearnerPage.of(
        pages,
        found,
        key=lambda learner: (learner.region_code, learner.id),
        item=lambda learner: LearnerOut.model_validate(learner, from_attributes=True),
    )


@router.post(
    "/sessions/{session_id}/enrolments",
    status_code=status.HTTP_201_CREATED,
    summary="Enrol a learner: a seat, or the waiting list when the session is full",
)
async def enrol_learner(
    session_id: Text, body: EnrolmentIn, uow: Transaction, principal: Writer
) -> EnrolmentOut:
    enrolment = await service.enrol(
        uow, Actor.of(principal), session_id=session_id, learner_id=body.learner_id
    )
    return EnrolmentOut.of(enrolment)


@router.delete(
    "/sessions/{session_id}/enrolments/{learner_id}",
    summary="Withdraw; the first on the waiting list takes the seat",
)
async def withdraw_enrolment(
    session_id: Text, learner_id: Text, uow: Transaction, principal: Writer
) -> Response:
    await service.withdraw(uow, Actor.of(principal), session_id=session_id, learner_id=learner_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/sessions/{session_id}/attendance", summary="Attendance by roster or scanned code")
async def take_attendance(
    session_id: Text, body: AttendanceIn, uow: Transaction, principal: Writer
) -> AttendanceOut:
    learner_ids = body.learner_ids if body.method == "roster" else [body.learner_id or ""]
    recorded = await service.take_attendance(
        uow,
        Actor.of(principal),
        session_id=session_id,
        method=body.method,
        learner_ids=learner_ids,
        code=body.code,
        now=utcnow(),
    )
    return AttendanceOut(session_id=session_id, recorded=recorded)


@router.post(
    "/learners/{learner_id}/study",
    status_code=status.HTTP_201_CREATED,
    summary="Record external study (class hours outside the sessions here)",
)
async def record_study(
    learner_id: Text, body: StudyIn, uow: Transaction, principal: Writer, today: Today
) -> StudyOut:
    hours = await service.record_study(
        uow,
        Actor.of(principal),
        learner_id=learner_id,
        hours=body.hours,
        studied_on=body.studied_on,
        description=body.description,
        today=today,
    )
    return StudyOut(learner_id=learner_id, year=body.studied_on.year, hours=hours)


@router.get("/study-hours", summary="Who meets the year's class hours, who is short by how much")
async def read_study_hours(
    uow: ReadSession,
    principal: Reader,
    rules: StudyRulesDep,
    region_code: Annotated[RegionCode, Query()],
    year: Annotated[int, Query(ge=2000, le=2100)],
    branch_id: Annotated[Text | None, Query()] = None,
    limit: Annotated[int, Query(ge=0, le=1000)] = 100,
) -> StudyHoursOut:
    principal.ensure_covers(region_code)
    found = await service.study_hours(
        uow, rules, region_code=region_code, year=year, branch_id=branch_id, limit=limit
    )
    return StudyHoursOut(
        region_code=found.region_code,
        year=found.year,
        members=found.members,
        meeting=found.meeting,
        short_count=found.members - found.meeting,
        hours_short=found.hours_short,
        short=[
            ShortOut(
                learner_id=s.learner_id,
                name_masked=s.name_masked,
                role=s.role,
                branch_id=s.branch_id,
                hours=s.hours,
                required=s.required,
                short_by=s.short_by,
            )
            for s in found.short
        ],
    )


@router.post(
    "/deliveries", status_code=status.HTTP_201_CREATED, summary="Door-to-door teaching counted"
)
async def record_delivery(
    body: DeliveryIn, uow: Transaction, principal: Writer, today: Today
) -> dict[str, str]:
    principal.ensure_covers(body.region_code)
    delivery_id = await service.record_delivery(
        uow,
        Actor.of(principal),
        region_code=body.region_code,
        kind=body.kind,
        count=body.count,
        delivered_on=body.delivered_on,
        course_id=body.course_id,
        note=body.note,
        today=today,
    )
    return {"id": delivery_id}


@router.get("/deliveries", summary="Booklets and visits of door-to-door teaching in a year")
async def list_deliveries(
    uow: ReadSession,
    principal: Reader,
    region_code: Annotated[RegionCode, Query()],
    year: Annotated[int, Query(ge=2000, le=2100)],
) -> DeliveriesOut:
    principal.ensure_covers(region_code)
    found = await service.deliveries_in(uow, region_code, year)
    return DeliveriesOut(region_code=region_code, year=year, **found)
