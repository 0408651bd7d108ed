"""The branch routine 三会一课: meetings recorded, and each obligation's periods met, missed or
open. A branch outside the caller's region does not exist for it (404)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from libs.common.audit import Actor
from libs.common.pagination import Page, Pages
from libs.common.text import Text
from services.training.api.deps import (
    Reader,
    ReadSession,
    RoutineRulesDep,
    Today,
    Transaction,
    Writer,
)
from services.training.domain.periods import Frequency
from services.training.domain.routine import Meeting, MeetingType, PeriodStatus
from services.training.service import routine as service

router = APIRouter(prefix="/v1", tags=["routine"])


class MeetingIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    type: MeetingType = Field(
        description="members_meeting 支部党员大会, committee_meeting 支部委员会, "
        "group_meeting 党小组会, party_lecture 党课, theme_day 主题党日, "
        "life_meeting 组织生活会, appraisal 民主评议党员"
    )
    held_on: date
    topic: Text = Field(min_length=1, max_length=500)
    entitled: StrictInt = Field(ge=1, le=100_000, description="Members entitled to attend")
    present: StrictInt = Field(ge=0, le=100_000, description="Members present")


class MeetingOut(BaseModel):
    id: str
    branch_id: str
    type: MeetingType
    held_on: date
    topic: str
    entitled: int
    present: int


class MeetingPage(Page[MeetingOut]):
    pass


def _meeting_out(meeting: Meeting) -> MeetingOut:
    return MeetingOut(
        id=meeting.id,
        branch_id=meeting.branch_id,
        type=meeting.meeting_type,
        held_on=meeting.held_on,
        topic=meeting.topic,
        entitled=meeting.entitled,
        present=meeting.present,
    )


@router.get("/branches/{branch_id}/meetings", summary="A branch's recorded meetings, latest first")
async def list_meetings(
    branch_id: Text,
    uow: ReadSession,
    principal: Reader,
    pages: Pages,
    meeting_type: Annotated[MeetingType | None, Query(alias="type")] = None,
) -> MeetingPage:
    after = pages.after(date, str)
    found = await service.meetings_of(
        uow,
        branch_id,
        principal.region_code,
        meeting_type=meeting_type,
        after=None if after is None else (after[0], after[1]),
        limit=pages.fetch,
    )
    return MeetingPage.of(pages, found, key=lambda m: (m.held_on, m.id), item=_meeting_out)


class PeriodOut(BaseModel):
    obligation: MeetingType
    frequency: Frequency
    period: str
    starts_on: date
    ends_on: date
    status: PeriodStatus
    meetings: int


class RoutineOut(BaseModel):
    branch_id: str
    kind: str
    region_code: str
    organization_ids: list[str]
    formed_on: date
    dissolved_on: date | None
    periods: list[PeriodOut]
    met: int
    missed: int
    open: int


@router.post(
    "/branches/{branch_id}/meetings",
    status_code=status.HTTP_201_CREATED,
    summary="Record a meeting of a branch's routine",
)
async def record_meeting(
    branch_id: Text,
    body: MeetingIn,
    uow: Transaction,
    principal: Writer,
    rules: RoutineRulesDep,
    today: Today,
) -> MeetingOut:
    meeting = await service.record_meeting(
        uow,
        Actor.of(principal),
        rules,
        branch_id=branch_id,
        meeting_type=body.type,
        held_on=body.held_on,
        topic=body.topic,
        entitled=body.entitled,
        present=body.present,
        today=today,
    )
    return _meeting_out(meeting)


class StructureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    has_committee: StrictBool = Field(
        description="The branch elected a committee (7+ full members)"
    )
    has_groups: StrictBool = Field(description="The branch has Party groups (党小组)")
    since: date | None = Field(default=None, description="Since when; default today")


class StructureOut(BaseModel):
    branch_id: str
    committee_since: date | None
    groups_since: date | None


@router.put(
    "/branches/{branch_id}/structure",
    summary="Record whether a branch has a committee and Party groups (what it owes monthly)",
)
async def set_structure(
    branch_id: Text, body: StructureIn, uow: Transaction, principal: Writer, today: Today
) -> StructureOut:
    routine = await service.set_structure(
        uow,
        Actor.of(principal),
        branch_id=branch_id,
        has_committee=body.has_committee,
        has_groups=body.has_groups,
        since=body.since or today,
    )
    return StructureOut(
        branch_id=routine.branch_id,
        committee_since=routine.committee_since,
        groups_since=routine.groups_since,
    )


@router.get(
    "/branches/{branch_id}/routine",
    summary="Each obligation's periods in a range: met, missed or open",
)
async def read_routine(
    branch_id: Text,
    uow: ReadSession,
    principal: Reader,
    rules: RoutineRulesDep,
    today: Today,
    starts_on: Annotated[
        date | None, Query(alias="from", description="Default: 1 January of this year")
    ] = None,
    ends_on: Annotated[date | None, Query(alias="to", description="Default: today")] = None,
) -> RoutineOut:
    report = await service.routine_of(
        uow,
        rules,
        branch_id=branch_id,
        scope=principal.region_code,
        starts_on=starts_on or today.replace(month=1, day=1),
        ends_on=ends_on or today,
        today=today,
    )
    periods = [
        PeriodOut(
            obligation=v.meeting_type,
            frequency=v.period.frequency,
            period=v.period.label,
            starts_on=v.period.starts_on,
            ends_on=v.period.last_day,
            status=v.status,
            meetings=v.meetings,
        )
        for v in report.periods
    ]
    routine = report.routine
    return RoutineOut(
        branch_id=routine.branch_id,
        kind=routine.kind,
        region_code=routine.region_code,
        organization_ids=list(routine.organization_ids),
        formed_on=routine.formed_on,
        dissolved_on=routine.dissolved_on,
        periods=periods,
        met=sum(p.status == "met" for p in periods),
        missed=sum(p.status == "missed" for p in periods),
        open=sum(p.status == "open" for p in periods),
    )
