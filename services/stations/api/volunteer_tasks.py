"""HTTP routes of volunteer tasks (志愿服务): post, list, read with participants, sign up,
withdraw, record attendance, complete, rate (which awards the task's points once), cancel.

The office (`stations:write`) does everything; a worker (`stations:request`, subject
`worker:<id>`) reads tasks, signs up and withdraws itself. A move that is not allowed to the
caller or not from the task's state is a `rule-violation` problem naming the rule. Every read
and move carries the task's version as a strong ETag; complete and cancel require `If-Match`
(428 without it, 412 when the task has moved on).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StrictInt

from libs.common.audit import Actor
from libs.common.auth import Principal
from libs.common.fields import RegionCode
from libs.common.http import (
    IfMatch,
    RegionCodeQuery,
    etag,
    expected_version,
    sends,
    subtree_of,
)
from libs.common.pagination import Page, Pages
from libs.common.problems import FieldError, InvalidInput
from libs.common.tables import utcnow
from libs.common.text import FreeText, Name, Text
from services.stations.api.deps import Caller, ReadSession, Transaction, Writer, party_of
from services.stations.domain.requests import Party
from services.stations.domain.volunteer_tasks import (
    Participant,
    TaskFilter,
    TaskState,
    VolunteerTask,
)
from services.stations.service import StationsUnitOfWork
from services.stations.service import volunteer_tasks as service

router = APIRouter(prefix="/v1/volunteer-tasks", tags=["volunteer tasks"])

WorkerId = Annotated[Text, Field(min_length=1, max_length=36)]


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # 9999-12-31T23:00-05:00 is past the last datetime in UTC
        raise ValueError("out of the range of dates") from exc


#: A moment with its offset, kept in UTC.
Moment = Annotated[AwareDatetime, AfterValidator(_in_utc)]


class TaskIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "title": "迎宾路社区冬季扫雪志愿服务",
                    "description": "清扫驿站周边人行道积雪，工具由社区提供",
                    "region_code": "140212101",
                    "station_id": "6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a",
                    "community_code": "140212101001",
                    "starts_at": "2026-12-06T09:00:00+08:00",
                    "ends_at": "2026-12-06T11:30:00+08:00",
                    "places": 12,
                    "points": 20,
                }
            ]
        },
    )

    title: Name = Field(min_length=1, max_length=200)
    description: FreeText | None = Field(default=None, max_length=4000)
    region_code: RegionCode
    station_id: Text | None = Field(default=None, max_length=36, description="Held at a station")
    community_code: RegionCode | None = Field(
        default=None, description="The community (社区) it serves, within the region"
    )
    starts_at: Moment
    ends_at: Moment
    places: StrictInt = Field(ge=1, le=10_000, description="How many workers may sign up")
    points: StrictInt = Field(
        ge=0, le=100_000, description="Awarded (reason volunteer) to each attendee when rated"
    )


class SignUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    worker_id: WorkerId | None = Field(
        default=None, description="Required from the office; a worker's own token is itself"
    )


class AttendanceIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"attended": ["w-1", "w-2"], "absent": ["w-3"]}]},
    )

    attended: list[WorkerId] = Field(default_factory=list, max_length=10_000)
    absent: list[WorkerId] = Field(default_factory=list, max_length=10_000)


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    worker_id: WorkerId
    score: StrictInt = Field(ge=1, le=5)
    comment: FreeText | None = Field(default=None, max_length=2000)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: FreeText = Field(min_length=1, max_length=2000)


_PARTICIPANT_EXAMPLE: dict[str, Any] = {
    "worker_id": "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d",
    "status": "attended",
    "signed_up_at": "2026-12-01T03:00:00Z",
    "withdrawn_at": None,
    "attendance_at": "2026-12-06T01:10:00Z",
    "score": 5,
    "comment": "认真负责",
    "rated_at": "2026-12-06T04:00:00Z",
    "transaction_id": "5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b",
}
_TASK_EXAMPLE: dict[str, Any] = {
    "id": "3c2b1a0f-9e8d-4c7b-a6f5-e4d3c2b1a0f9",
    "region_code": "140212101",
    "title": "迎宾路社区冬季扫雪志愿服务",
    "description": "清扫驿站周边人行道积雪，工具由社区提供",
    "station_id": "6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a",
    "community_code": "140212101001",
    "starts_at": "2026-12-06T01:00:00Z",
    "ends_at": "2026-12-06T03:30:00Z",
    "places": 12,
    "taken": 1,
    "places_left": 11,
    "points": 20,
    "state": "completed",
    "posted_at": "2026-11-30T02:00:00Z",
    "completed_at": "2026-12-06T03:40:00Z",
    "cancelled_at": None,
    "version": 5,
}


class ParticipantOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_PARTICIPANT_EXAMPLE]})

    worker_id: str
    status: str = Field(description="signed_up, withdrawn, attended or absent")
    signed_up_at: datetime
    withdrawn_at: datetime | None
    attendance_at: datetime | None
    score: int | None
    comment: str | None
    rated_at: datetime | None
    transaction_id: str | None = Field(description="The ledger's award for the rated service")

    @classmethod
    def of(cls, p: Participant) -> ParticipantOut:
        return cls(**{name: getattr(p, name) for name in cls.model_fields})


class TaskOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_TASK_EXAMPLE]})

    id: str
    region_code: str
    title: str
    description: str | None
    station_id: str | None
    community_code: str | None
    starts_at: datetime
    ends_at: datetime
    places: int
    taken: int = Field(description="Places held (signed up, attended or absent)")
    places_left: int
    points: int
    state: TaskState
    posted_at: datetime
    completed_at: datetime | None
    cancelled_at: datetime | None
    version: int

    @classmethod
    def values_of(cls, t: VolunteerTask) -> dict[str, Any]:
        return {name: getattr(t, name) for name in TaskOut.model_fields}


class TaskDetailOut(TaskOut):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_TASK_EXAMPLE, "participants": [_PARTICIPANT_EXAMPLE]}]}
    )

    participants: list[ParticipantOut] = Field(
        description="Every participant for the office; a worker sees only its own"
    )

    @classmethod
    def of(cls, t: VolunteerTask, party: Party) -> TaskDetailOut:
        seen = [p for p in t.participants if _sees(party, p)]
        return cls(**TaskOut.values_of(t), participants=[ParticipantOut.of(p) for p in seen])


class TaskPage(Page[TaskOut]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [_TASK_EXAMPLE], "next_cursor": None, "next": None}]
        }
    )


def _sees(party: Party, participant: Participant) -> bool:
    if party.kind == "office":
        return True
    return party.kind == "requester" and party.subject == f"worker:{participant.worker_id}"


def _answer(response: Response, task: VolunteerTask, party: Party) -> TaskDetailOut:
    response.headers["ETag"] = etag(task.version)
    return TaskDetailOut.of(task, party)


async def _visible(uow: StationsUnitOfWork, task_id: str, principal: Principal) -> VolunteerTask:
    return principal.visible(await service.get_task(uow, task_id), "volunteer task")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Post a volunteer task (志愿服务; the office)",
    responses=sends(201, etag=True, location=True),
)
async def post_volunteer_task(
    body: TaskIn, uow: Transaction, principal: Writer, response: Response
) -> TaskDetailOut:
    principal.ensure_covers(body.region_code)
    task = await service.post_task(uow, Actor.of(principal), **body.model_dump())
    response.headers["Location"] = f"{router.prefix}/{task.id}"
    return _answer(response, task, party_of(principal, moving=False))


@router.get("", summary="List the volunteer tasks of a region subtree, with filters and a cursor")
async def list_volunteer_tasks(
    uow: ReadSession,
    principal: Caller,
    pages: Pages,
    region_code: RegionCodeQuery = None,
    state: TaskState | None = None,
    station_id: Text | None = None,
    upcoming: Annotated[bool, Query(description="Only those not started yet")] = False,
) -> TaskPage:
    party_of(principal, moving=False)
    where = TaskFilter(
        region_code=subtree_of(principal, region_code),
        state=state,
        station_id=station_id,
        starts_after=utcnow() if upcoming else None,
    )
    found = await service.list_tasks(uow, where, after=pages.after(str, str), limit=pages.fetch)
    return TaskPage.of(
        pages,
        found,
        key=lambda t: (t.region_code, t.id),
        item=lambda t: TaskOut(**TaskOut.values_of(t)),
    )


@router.get(
    "/{task_id}", summary="One volunteer task with its participants", responses=sends(etag=True)
)
async def read_volunteer_task(
    task_id: Text, uow: ReadSession, principal: Caller, response: Response
) -> TaskDetailOut:
    party = party_of(principal, moving=False)
    return _answer(response, await _visible(uow, task_id, principal), party)


def _signing_up(party: Party, worker_id: str | None) -> str:
    """The worker a sign-up is for: the office names it, a worker's own token is itself."""
    if worker_id is not None:
        return worker_id
    kind, _, ident = party.subject.partition(":")
    if party.kind == "requester" and kind == "worker" and ident:
        return ident
    raise InvalidInput(
        "name the worker who signs up",
        errors=[FieldError("worker_id", "required unless a worker signs up itself")],
    )


@router.post(
    "/{task_id}/sign-ups",
    status_code=status.HTTP_201_CREATED,
    summary="Sign a worker up for a place (the worker itself, or the office)",
    responses=sends(201, etag=True),
)
async def sign_up_for_volunteer_task(
    task_id: Text,
    uow: Transaction,
    principal: Caller,
    response: Response,
    body: SignUpIn | None = None,
) -> TaskDetailOut:
    party = party_of(principal, moving=True)
    worker_id = _signing_up(party, body.worker_id if body else None)
    task = await service.sign_up(uow, Actor.of(principal), party, task_id, worker_id)
    return _answer(response, task, party)


@router.post(
    "/{task_id}/sign-ups/{worker_id}/withdraw",
    summary="Withdraw a sign-up before the task starts (the worker itself, or the office)",
    responses=sends(etag=True),
)
async def withdraw_from_volunteer_task(
    task_id: Text, worker_id: Text, uow: Transaction, principal: Caller, response: Response
) -> TaskDetailOut:
    party = party_of(principal, moving=True)
    task = await service.withdraw(uow, Actor.of(principal), party, task_id, worker_id)
    return _answer(response, task, party)


@router.post(
    "/{task_id}/attendance",
    summary="Record who took part and who did not (the office, once the task has started)",
    responses=sends(etag=True),
)
async def record_volunteer_attendance(
    task_id: Text, body: AttendanceIn, uow: Transaction, principal: Caller, response: Response
) -> TaskDetailOut:
    party = party_of(principal, moving=True)
    if not body.attended and not body.absent:
        raise InvalidInput(
            "name at least one participant",
            errors=[FieldError("attended", "name at least one participant, here or in absent")],
        )
    task = await service.record_attendance(
        uow, Actor.of(principal), party, task_id, attended=body.attended, absent=body.absent
    )
    return _answer(response, task, party)


@router.post(
    "/{task_id}/complete",
    summary="Complete the task (the office; If-Match required): then its attendees are rated",
    responses=sends(etag=True),
)
async def complete_volunteer_task(
    task_id: Text,
    uow: Transaction,
    principal: Caller,
    response: Response,
    if_match: IfMatch = None,
) -> TaskDetailOut:
    party = party_of(principal, moving=True)
    await _visible(uow, task_id, principal)
    expected = expected_version(if_match)
    task = await service.complete(
        uow, Actor.of(principal), party, task_id, expected_version=expected
    )
    return _answer(response, task, party)


@router.post(
    "/{task_id}/ratings",
    status_code=status.HTTP_201_CREATED,
    summary="Rate an attendee's service 1–5 and award the task's points once (the office; "
    "a new rating of the same worker is 200 and awards nothing more)",
)
async def rate_volunteer(
    task_id: Text, body: RatingIn, uow: Transaction, principal: Caller, response: Response
) -> ParticipantOut:
    party = party_of(principal, moving=True)
    participant, first = await service.rate(
        uow,
        Actor.of(principal),
        party,
        task_id,
        body.worker_id,
        score=body.score,
        comment=body.comment,
    )
    if not first:
        response.status_code = status.HTTP_200_OK
    return ParticipantOut.of(participant)


@router.post(
    "/{task_id}/cancel",
    summary="Cancel an open task (the office; If-Match required): nobody is awarded for it",
    responses=sends(etag=True),
)
async def cancel_volunteer_task(
    task_id: Text,
    body: ReasonIn,
    uow: Transaction,
    principal: Caller,
    response: Response,
    if_match: IfMatch = None,
) -> TaskDetailOut:
    party = party_of(principal, moving=True)
    await _visible(uow, task_id, principal)
    expected = expected_version(if_match)
    task = await service.cancel(
        uow, Actor.of(principal), party, task_id, reason=body.reason, expected_version=expected
    )
    return _answer(response, task, party)
