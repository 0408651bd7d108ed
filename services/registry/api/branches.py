"""Party organisations: committees (the tree) and branches (standalone, joint, temporary).

Every refusal by a Party rule is a 422 problem+json of type `rule-violation` whose `rule` names
the rule (e.g. `standalone_min_full_members`) and `organization_ids` the organisations concerned.
Warnings (a joint branch across townships or industries) come back with the branch, not as errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.common.audit import Actor
from libs.common.calendar import local_today
from libs.common.fields import RegionCode
from libs.common.http import RegionCodeQuery, etag, sends, subtree_of
from libs.common.pagination import Page, Pages
from libs.common.text import Name, Text
from services.registry.api.deps import Reader, ReadSession, RulesDep, Transaction, Writer
from services.registry.domain.branches import (
    Advice,
    Branch,
    BranchKind,
    BranchStatus,
    Committee,
    CommitteeKind,
    Covered,
    Upgrade,
)
from services.registry.service import branches as service

router = APIRouter(prefix="/v1", tags=["branches"])


class CommitteeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "kind": "township",
                    "name": "中共新荣镇综合委员会",
                    "region_code": "140212101",
                    "formed_on": "2026-01-15",
                }
            ]
        },
    )

    kind: CommitteeKind = Field(
        description="industry 行业党委, township 综合党委, park 园区党委, two_new 两新工委"
    )
    name: Name = Field(min_length=1, max_length=200)
    region_code: RegionCode
    parent_id: Text | None = Field(default=None, description="The committee above it")
    formed_on: date | None = Field(default=None, description="Default: today")


class CommitteeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5f0c2a9e-8d1b-4c3a-9e7f-1a2b3c4d5e6f",
                    "kind": "township",
                    "name": "中共新荣镇综合委员会",
                    "region_code": "140212101",
                    "parent_id": None,
                    "formed_on": "2026-01-15",
                }
            ]
        }
    )

    id: str
    kind: CommitteeKind
    name: str
    region_code: str
    parent_id: str | None
    formed_on: date

    @classmethod
    def of(cls, committee: Committee) -> CommitteeOut:
        return cls.model_validate(committee, from_attributes=True)


class CoveredIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    organization_id: Text
    unable_reason: Text | None = Field(
        default=None,
        max_length=500,
        description="Why an organisation with enough full members cannot stand alone (joint)",
    )


class BranchIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "kind": "joint",
                    "name": "新荣镇迎宾路非公企业联合党支部",
                    "parent_id": "5f0c2a9e-8d1b-4c3a-9e7f-1a2b3c4d5e6f",
                    "organizations": [
                        {"organization_id": "0b7d6c1e-3f0a-4d8e-9a51-2c7f4e1b9d20"},
                        {
                            "organization_id": "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
                            "unable_reason": "党员流动性大，单独组建条件不成熟",
                        },
                    ],
                    "formed_on": "2026-11-30",
                }
            ]
        },
    )

    kind: Literal["standalone", "joint", "temporary"]
    name: Name = Field(min_length=1, max_length=200)
    parent_id: Text = Field(description="The parent committee")
    organization_ids: list[Text] = Field(default_factory=list, max_length=100)
    organizations: list[CoveredIn] = Field(
        default_factory=list,
        max_length=100,
        description="Alternative to organization_ids, with unable_reason where needed",
    )
    formed_on: date | None = Field(default=None, description="Default: today")
    ends_on: date | None = Field(default=None, description="Required for a temporary branch")

    @model_validator(mode="after")
    def _one_list(self) -> BranchIn:
        if self.organization_ids and self.organizations:
            raise ValueError("give organization_ids or organizations, not both")
        return self

    def covered(self) -> list[Covered]:
        if self.organizations:
            return [Covered(o.organization_id, o.unable_reason) for o in self.organizations]
        return [Covered(i) for i in self.organization_ids]


class AdviceOut(BaseModel):
    rule: str
    message: str
    organization_ids: list[str]


class BranchOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                    "kind": "joint",
                    "name": "新荣镇迎宾路非公企业联合党支部",
                    "parent_id": "5f0c2a9e-8d1b-4c3a-9e7f-1a2b3c4d5e6f",
                    "organization_ids": [
                        "0b7d6c1e-3f0a-4d8e-9a51-2c7f4e1b9d20",
                        "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
                    ],
                    "formed_on": "2026-11-30",
                    "ends_on": None,
                    "can_develop_members": True,
                    "status": "active",
                    "rectification_reason": None,
                    "rectify_by": None,
                    "needs_reparenting": False,
                    "reparenting_reason": None,
                    "region_code": "140212101",
                    "warnings": [],
                    "unable_reasons": {
                        "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f": "党员流动性大，单独组建条件不成熟"
                    },
                    "dissolved_on": None,
                    "dissolution_reason": None,
                    "version": 1,
                    "advice": [],
                }
            ]
        }
    )

    id: str
    kind: Literal["standalone", "joint", "temporary"]
    name: str
    parent_id: str
    organization_ids: list[str]
    formed_on: date
    ends_on: date | None
    can_develop_members: bool = Field(description="False for a temporary branch")
    status: Literal["active", "needs_rectification", "dissolved"] = Field(
        description="needs_rectification: a joint branch below the rules (it still covers them)"
    )
    rectification_reason: str | None
    rectify_by: date | None = Field(description="Deadline to put it right (calendar months)")
    needs_reparenting: bool = Field(
        description="An organisation it covers moved township or out of its committee's region"
    )
    reparenting_reason: str | None
    region_code: str
    warnings: list[AdviceOut]
    unable_reasons: dict[str, str]
    dissolved_on: date | None
    dissolution_reason: str | None
    version: int
    advice: list[AdviceOut] = Field(
        default_factory=list,
        description="Advice on the branch as it is now: general_branch_size (党总支, 50+ members), "
        "committee_size (党委, 100+)",
    )

    @classmethod
    def of(cls, branch: Branch, advice: Sequence[Advice] = ()) -> BranchOut:
        out = cls.model_validate(branch, from_attributes=True)
        out.advice = [AdviceOut(**a.as_dict()) for a in advice]
        return out


class CommitteePage(Page[CommitteeOut]):
    pass


class BranchPage(Page[BranchOut]):
    pass


class UpgradeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    organization_id: Text
    name: Name = Field(min_length=1, max_length=200, description="Name of its standalone branch")


class ReorganizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    add: list[CoveredIn] = Field(default_factory=list, max_length=100)
    remove: list[Text] = Field(default_factory=list, max_length=100)
    upgrade: list[UpgradeIn] = Field(
        default_factory=list,
        max_length=100,
        description="Joint members with enough full members, each to its own standalone branch",
    )
    on: date | None = Field(default=None, description="Default: today")

    @model_validator(mode="after")
    def _something(self) -> ReorganizeIn:
        if not (self.add or self.remove or self.upgrade):
            raise ValueError("nothing to change: give add, remove or upgrade")
        return self


class ReorganizedOut(BaseModel):
    branch: BranchOut
    formed: list[BranchOut] = Field(description="Standalone branches formed by upgrades")


class DissolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Text = Field(min_length=1, max_length=500)
    on: date | None = Field(default=None, description="Default: today")


@router.post(
    "/committees",
    status_code=status.HTTP_201_CREATED,
    response_model=CommitteeOut,
    summary="Set up a parent committee (行业党委, 综合党委, 园区党委, 两新工委)",
    responses=sends(201, location=True),
)
async def form_committee(
    body: CommitteeIn, uow: Transaction, principal: Writer, response: Response
) -> CommitteeOut:
    principal.ensure_covers(body.region_code)
    committee = await service.form_committee(
        uow,
        Actor.of(principal),
        kind=body.kind,
        name=body.name,
        region_code=body.region_code,
        parent_id=body.parent_id,
        formed_on=body.formed_on or date.today(),
    )
    response.headers["Location"] = f"/v1/committees/{committee.id}"
    return CommitteeOut.of(committee)


@router.get(
    "/committees",
    response_model=CommitteePage,
    summary="The committees of a region subtree, with filters and a cursor",
)
async def list_committees(
    uow: ReadSession,
    principal: Reader,
    pages: Pages,
    region_code: RegionCodeQuery = None,
    kind: CommitteeKind | None = None,
    parent_id: Annotated[Text | None, Query(max_length=64)] = None,
) -> CommitteePage:
    """In (region_code, id) order. Committees above the caller's region (its 两新工委, say) are
    read by id, not listed."""
    found = await service.list_committees(
        uow,
        subtree_of(principal, region_code),
        kind=kind,
        parent_id=parent_id,
        after=pages.after(str, str),
        limit=pages.fetch,
    )
    return CommitteePage.of(pages, found, key=lambda c: (c.region_code, c.id), item=CommitteeOut.of)


@router.get("/committees/{committee_id}", response_model=CommitteeOut, summary="One committee")
async def read_committee(committee_id: Text, uow: ReadSession, principal: Reader) -> CommitteeOut:
    return CommitteeOut.of(await service.get_committee(uow, committee_id, principal.region_code))


@router.post(
    "/branches",
    status_code=status.HTTP_201_CREATED,
    response_model=BranchOut,
    summary="Form a standalone, joint or temporary branch under a committee",
    responses=sends(201, etag=True, location=True),
)
async def form_branch(
    body: BranchIn, uow: Transaction, principal: Writer, rules: RulesDep, response: Response
) -> BranchOut:
    branch = await service.form_branch(
        uow,
        Actor.of(principal),
        rules,
        kind=body.kind,
        name=body.name,
        parent_id=body.parent_id,
        covered=body.covered(),
        formed_on=body.formed_on or date.today(),
        ends_on=body.ends_on,
    )
    response.headers["Location"] = f"/v1/branches/{branch.id}"
    response.headers["ETag"] = etag(branch.version)
    return BranchOut.of(branch, await service.branch_advice(uow, branch, rules))


@router.get(
    "/branches",
    response_model=BranchPage,
    summary="The branches of a region subtree, with filters and a cursor",
)
async def list_branches(
    uow: ReadSession,
    principal: Reader,
    rules: RulesDep,
    pages: Pages,
    region_code: RegionCodeQuery = None,
    kind: BranchKind | None = None,
    branch_status: Annotated[
        BranchStatus | None,
        Query(alias="status", description="active, needs_rectification or dissolved (any)"),
    ] = None,
    parent_id: Annotated[
        Text | None, Query(max_length=64, description="The committee above them")
    ] = None,
    organization_id: Annotated[
        Text | None, Query(max_length=64, description="The branch covering this organisation")
    ] = None,
) -> BranchPage:
    """In (region_code, id) order, each with its advice as on `GET /v1/branches/{id}`."""
    found = await service.list_branches(
        uow,
        rules,
        subtree_of(principal, region_code),
        kind=kind,
        status=branch_status,
        parent_id=parent_id,
        organization_id=organization_id,
        after=pages.after(str, str),
        limit=pages.fetch,
    )
    return BranchPage.of(
        pages, found, key=lambda f: (f[0].region_code, f[0].id), item=lambda f: BranchOut.of(*f)
    )


@router.get(
    "/branches/{branch_id}",
    response_model=BranchOut,
    summary="One branch",
    responses=sends(etag=True),
)
async def read_branch(
    branch_id: Text, uow: ReadSession, principal: Reader, rules: RulesDep, response: Response
) -> BranchOut:
    branch = await service.get_branch(uow, branch_id, principal.region_code)
    response.headers["ETag"] = etag(branch.version)
    return BranchOut.of(branch, await service.branch_advice(uow, branch, rules))


@router.post(
    "/branches/{branch_id}/reorganize",
    response_model=ReorganizedOut,
    summary="Add or remove covered organisations; upgrade joint members to standalone",
)
async def reorganize_branch(
    branch_id: Text, body: ReorganizeIn, uow: Transaction, principal: Writer, rules: RulesDep
) -> ReorganizedOut:
    branch, formed = await service.reorganize_branch(
        uow,
        Actor.of(principal),
        rules,
        branch_id,
        add=[Covered(c.organization_id, c.unable_reason) for c in body.add],
        remove=body.remove,
        upgrade=[Upgrade(u.organization_id, u.name) for u in body.upgrade],
        on=body.on or date.today(),
    )
    return ReorganizedOut(
        branch=BranchOut.of(branch, await service.branch_advice(uow, branch, rules)),
        formed=[BranchOut.of(b) for b in formed],
    )


class ReparentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    parent_id: Text = Field(description="The committee to be under (it may be the same one)")
    on: date | None = Field(default=None, description="Default: today")


@router.post(
    "/branches/{branch_id}/reparent",
    response_model=BranchOut,
    summary="Put a branch under a committee (clears the flag set when an organisation moved)",
)
async def reparent_branch(
    branch_id: Text, body: ReparentIn, uow: Transaction, principal: Writer
) -> BranchOut:
    branch = await service.reparent_branch(
        uow, Actor.of(principal), branch_id, parent_id=body.parent_id, on=body.on or local_today()
    )
    return BranchOut.of(branch)


@router.post(
    "/branches/{branch_id}/dissolve", response_model=BranchOut, summary="Dissolve a branch"
)
async def dissolve_branch(
    branch_id: Text, body: DissolveIn, uow: Transaction, principal: Writer
) -> BranchOut:
    branch = await service.dissolve_branch(
        uow, Actor.of(principal), branch_id, reason=body.reason, on=body.on or date.today()
    )
    return BranchOut.of(branch)
