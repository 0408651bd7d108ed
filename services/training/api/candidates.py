"""Member development (四本台账): applications, each step of the pipeline, the pipeline per region.

A person is held by a keyed hash of the ID number and masked forms; responses show only the
masked name and ID number. Every refusal by a rule is a 422 `rule-violation` naming the rule and,
where waiting will meet it, the date (`met_on`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from libs.common.audit import Actor
from libs.common.fields import RegionCode
from libs.common.http import RegionCodeQuery, subtree_of
from libs.common.pagination import Page, Pages
from libs.common.text import Name, Text
from services.training.api.deps import (
    IdentityKeyDep,
    PipelineRulesDep,
    Reader,
    ReadSession,
    Today,
    Transaction,
    Writer,
)
from services.training.domain.candidates import Candidate, PipelineRules, Stage, Vote
from services.training.service import candidates as service
from services.training.service.candidates import IntroducerIn, Step, StepInput

router = APIRouter(prefix="/v1", tags=["candidates"])


class ApplicationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "王小明",
                    "id_number": "14021219950101002X",
                    "organization_id": "0b7d6c1e-3f0a-4d8e-9a51-2c7f4e1b9d20",
                    "branch_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                    "applied_on": "2026-03-02",
                }
            ]
        },
    )

    name: Name = Field(min_length=1, max_length=50, description="Kept masked only (张**)")
    id_number: Text = Field(min_length=15, max_length=20, description="Kept as a keyed hash")
    organization_id: Text
    branch_id: Text = Field(description="The branch that develops the applicant")
    applied_on: date


class IntroducerBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Name = Field(min_length=1, max_length=50)
    id_number: Text = Field(min_length=15, max_length=20)
    membership: Literal["full", "probationary"]


class VoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entitled: StrictInt = Field(ge=1, le=100_000, description="Members entitled to vote")
    present: StrictInt = Field(ge=0, le=100_000)
    yes: StrictInt = Field(ge=0, le=100_000)


class StepIn(BaseModel):
    """The step's date and what the step needs; other fields are ignored by it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    on: date | None = Field(default=None, description="When the step was taken; default today")
    days: StrictInt | None = Field(default=None, ge=0, le=365, description="training: days")
    hours: StrictInt | None = Field(
        default=None, ge=0, le=2000, description="training: class hours"
    )
    introducers: list[IntroducerBody] = Field(default_factory=list, max_length=5)
    vote: VoteBody | None = Field(default=None, description="admission, confirmation")
    committee_id: Text | None = Field(
        default=None,
        max_length=36,
        description="approval: the approving Party committee, as the registry knows it "
        "(its level, region and date are the registry's, not the caller's)",
    )
    extended: StrictBool = Field(default=False, description="approval: limit extended to 6 months")
    months: StrictInt | None = Field(
        default=None, description="extend-probation: by how many months"
    )
    reason: Text | None = Field(default=None, max_length=500, description="cancel: why")


class DeadlineOut(BaseModel):
    kind: str
    due_on: date


_CANDIDATE_EXAMPLE: dict[str, Any] = {
    "id": "4f3e2d1c-0b9a-4f8e-8d7c-6b5a4f3e2d1c",
    "stage": "activist",
    "region_code": "140212101",
    "organization_id": "0b7d6c1e-3f0a-4d8e-9a51-2c7f4e1b9d20",
    "branch_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "name_masked": "王**",
    "id_masked": "140212********002X",
    "applied_on": "2026-03-02",
    "talk_due_on": "2026-04-01",
    "talked_on": "2026-03-20",
    "activist_on": "2026-04-15",
    "development_target_from": "2027-04-15",
    "target_on": None,
    "political_review_on": None,
    "trained_on": None,
    "introducers": [],
    "admitted_on": None,
    "approval_due_on": None,
    "approved_on": None,
    "probation_ends_on": None,
    "extension_months": None,
    "confirmed_on": None,
    "cancelled_on": None,
    "next_deadline": {"kind": "development_target", "due_on": "2027-04-15"},
    "version": 3,
}


class CandidateOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_CANDIDATE_EXAMPLE]})

    id: str
    stage: Stage
    region_code: str
    organization_id: str
    branch_id: str
    name_masked: str
    id_masked: str
    applied_on: date
    talk_due_on: date
    talked_on: date | None
    activist_on: date | None
    development_target_from: date | None
    target_on: date | None
    political_review_on: date | None
    trained_on: date | None
    introducers: list[str]
    admitted_on: date | None
    approval_due_on: date | None
    approved_on: date | None
    probation_ends_on: date | None
    extension_months: int | None
    confirmed_on: date | None
    cancelled_on: date | None
    next_deadline: DeadlineOut | None
    version: int

    @classmethod
    def of(cls, c: Candidate, rules: PipelineRules) -> CandidateOut:
        upcoming = c.next_deadline(rules)
        return cls(
            id=c.id,
            stage=c.stage,
            region_code=c.region_code,
            organization_id=c.organization_id,
            branch_id=c.branch_id,
            name_masked=c.name_masked,
            id_masked=c.id_masked,
            applied_on=c.applied_on,
            talk_due_on=c.talk_due_on(rules),
            talked_on=c.talked_on,
            activist_on=c.activist_on,
            development_target_from=c.target_from(rules),
            target_on=c.target_on,
            political_review_on=c.political_review_on,
            trained_on=c.trained_on,
            introducers=list(c.introducers),
            admitted_on=c.admitted_on,
            approval_due_on=c.approval_due_on(rules),
            approved_on=c.approved_on,
            probation_ends_on=c.probation_ends_on(rules),
            extension_months=c.extension_months,
            confirmed_on=c.confirmed_on,
            cancelled_on=c.cancelled_on,
            next_deadline=DeadlineOut(kind=upcoming[0], due_on=upcoming[1]) if upcoming else None,
            version=c.version,
        )


class PipelineGroupOut(BaseModel):
    organization_id: str
    branch_id: str
    stages: dict[str, int]


class PipelineOut(BaseModel):
    region_code: str
    stages: dict[str, int]
    organizations: list[PipelineGroupOut]


@router.post("/candidates", status_code=status.HTTP_201_CREATED, summary="An application")
async def apply_candidate(
    body: ApplicationIn,
    uow: Transaction,
    principal: Writer,
    rules: PipelineRulesDep,
    key: IdentityKeyDep,
    today: Today,
) -> CandidateOut:
    candidate = await service.apply(
        uow,
        Actor.of(principal),
        rules,
        key,
        name=body.name,
        id_number=body.id_number,
        organization_id=body.organization_id,
        branch_id=body.branch_id,
        applied_on=body.applied_on,
        today=today,
    )
    return CandidateOut.of(candidate, rules)


class CandidatePageOut(Page[CandidateOut]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [_CANDIDATE_EXAMPLE], "next_cursor": None, "next": None}]
        }
    )


@router.get("/candidates", summary="The pipeline's candidates of a region, organisation, branch")
async def list_candidates(
    uow: ReadSession,
    principal: Reader,
    rules: PipelineRulesDep,
    pages: Pages,
    region_code: RegionCodeQuery = None,
    organization_id: Annotated[Text | None, Query()] = None,
    branch_id: Annotated[Text | None, Query()] = None,
    stage: Annotated[Stage | None, Query()] = None,
) -> CandidatePageOut:
    """By id."""
    after = pages.after(str)
    found = await service.listed(
        uow,
        subtree_of(principal, region_code),
        organization_id=organization_id,
        branch_id=branch_id,
        stage=stage,
        after_id=None if after is None else after[0],
        limit=pages.fetch,
    )
    return CandidatePageOut.of(
        pages, found, key=lambda c: (c.id,), item=lambda c: CandidateOut.of(c, rules)
    )


@router.get("/candidates/{candidate_id}", summary="A candidate: stage, dates, next deadline")
async def read_candidate(
    candidate_id: Text, uow: ReadSession, principal: Reader, rules: PipelineRulesDep
) -> CandidateOut:
    return CandidateOut.of(await service.get(uow, candidate_id, principal.region_code), rules)


@router.post("/candidates/{candidate_id}/{step}", summary="One step of the pipeline")
async def take_candidate_step(
    candidate_id: Text,
    step: Step,
    body: StepIn,
    uow: Transaction,
    principal: Writer,
    rules: PipelineRulesDep,
    key: IdentityKeyDep,
    today: Today,
) -> CandidateOut:
    given = StepInput(
        on=body.on,
        days=body.days,
        hours=body.hours,
        introducers=[IntroducerIn(i.name, i.id_number, i.membership) for i in body.introducers],
        vote=Vote(body.vote.entitled, body.vote.present, body.vote.yes) if body.vote else None,
        committee_id=body.committee_id,
        extended=body.extended,
        months=body.months,
        reason=body.reason,
    )
    candidate = await service.take_step(
        uow,
        Actor.of(principal),
        rules,
        key,
        candidate_id=candidate_id,
        step=step,
        given=given,
        today=today,
    )
    return CandidateOut.of(candidate, rules)


@router.get("/pipeline", summary="Candidates per stage in a region, per organisation and branch")
async def read_pipeline(
    uow: ReadSession,
    principal: Reader,
    region_code: Annotated[RegionCode, Query(description="The region (a prefix of codes)")],
) -> PipelineOut:
    principal.ensure_covers(region_code)
    found = await service.pipeline_of(uow, region_code)
    return PipelineOut(
        region_code=found.region_code,
        stages=found.stages,
        organizations=[
            PipelineGroupOut(organization_id=o, branch_id=b, stages=s) for o, b, s in found.groups
        ],
    )
