"""HTTP routes for the gap list (目标对象清单), its XLSX export and joint-branch proposals."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.background import BackgroundTask

from libs.common.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    NEXT_CURSOR_EXAMPLE,
    SENDS_LINK,
    Page,
    Paging,
)
from libs.common.problems import PROBLEM_JSON
from libs.common.text import Text
from services.coverage.api.deps import Reader, ReadUnitOfWorkDep, Settings, region_in_scope
from services.coverage.domain import facts as coverage_facts
from services.coverage.domain.gaps import (
    DEFAULT_SORT,
    SORT_FIELDS,
    Gap,
    GapFilter,
    Metric,
    NextAction,
    Reason,
    action_label,
    reason_label,
)
from services.coverage.domain.proposals import Candidate, LeftoverReason, ProposalRules
from services.coverage.service import gaps as gap_list
from services.coverage.service import proposals
from services.coverage.service.export import XLSX_MEDIA_TYPE

router = APIRouter(prefix="/v1/coverage", tags=["gaps"])

CHINA_TIME = timezone(timedelta(hours=8))
PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {PROBLEM_JSON: {}}}
    for status, text in ((403, "outside the caller's region"), (422, "invalid input"))
}


class GapFilters(BaseModel):
    """Which gaps, in which order (query parameters shared by the list and the export)."""

    model_config = ConfigDict(extra="forbid")

    metric: Metric = Metric.ORGANIZATION
    scope: coverage_facts.Scope | None = Field(
        default=None, description="default: with_members (organization), all_managed (work)"
    )
    kind: Literal["enterprise", "social_organization"] | None = None
    industry: Text | None = Field(
        default=None,
        pattern=r"^[A-Ta-t](\d{1,4})?$",
        description="GB/T 4754 code or prefix: a section letter (I), a division (I65), a class",
    )
    township: Text | None = Field(default=None, pattern=r"^\d{9}$")
    size_band: Literal["1-9", "10-49", "50-299", "300+", "unknown"] | None = None
    area_id: Text | None = Field(default=None, min_length=1, max_length=64)
    reason: Reason | None = None
    next_action: NextAction | None = None
    sort: Text = Field(
        default=DEFAULT_SORT,
        description=f"one of {', '.join(SORT_FIELDS)}; prefix '-' for descending",
    )

    @field_validator("sort")
    @classmethod
    def known_sort_key(cls, value: str) -> str:
        if value.removeprefix("-") not in SORT_FIELDS:
            raise ValueError(f"must be one of {', '.join(SORT_FIELDS)}, optionally with '-'")
        return value

    def gap_filter(self, region_code: str, min_full_members: int) -> GapFilter:
        return GapFilter(
            region_code=region_code,
            metric=self.metric,
            scope=self.scope or self.metric.default_scope,
            min_full_members=min_full_members,
            kind=self.kind,
            industry=self.industry.upper() if self.industry else None,
            township=self.township,
            size_band=self.size_band,
            area_id=self.area_id,
            reason=self.reason,
            next_action=self.next_action,
        )


class GapPageQuery(GapFilters):
    """The filters and the page (a query model: `cursor` and `limit` as every list takes them)."""

    cursor: str | None = Field(
        default=None,
        max_length=2000,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Where the page starts: `next_cursor` of the previous page, with the same "
        "filters and sort (or follow `next`); absent for the first page",
    )
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page")


_GAP_EXAMPLE: dict[str, Any] = {
    "organization_id": "0b7d6c1e-3f0a-4d8e-9a51-2c7f4e1b9d20",
    "credit_code": "911402120000000077",
    "name": "大同市新荣区云冈物流有限公司",
    "region_code": "140212101",
    "township_code": "140212101",
    "kind": "enterprise",
    "industry_code": "G54",
    "staff_count": 36,
    "size_band": "10-49",
    "area_ids": [],
    "three_haves": True,
    "operating_status": "operating",
    "temporary_branch": False,
    "full_members": 2,
    "probationary_members": 0,
    "instructor_count": 0,
    "mass_organization_count": 0,
    "ledger_complete": False,
    "no_branch_reason": "正式党员不足3名，拟建联合党支部",
    "reason": "too_few_full_members",
    "reason_label": "正式党员不足3名，未纳入联合党支部",
    "reasons": ["too_few_full_members"],
    "next_action": "join_or_form_joint_branch",
    "next_action_label": "联合组建或纳入联合党支部",
    "next_actions": ["join_or_form_joint_branch", "assign_instructor", "complete_ledger"],
}


class GapOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_GAP_EXAMPLE]})

    organization_id: str
    credit_code: str
    name: str
    region_code: str
    township_code: str
    kind: str
    industry_code: str | None
    staff_count: int | None
    size_band: str
    area_ids: list[str]
    three_haves: bool | None = Field(description="三有; null: not known (never read as false)")
    operating_status: str
    temporary_branch: bool = Field(
        description="A temporary Party organisation reaches it (work coverage only)"
    )
    full_members: int
    probationary_members: int
    instructor_count: int
    mass_organization_count: int
    ledger_complete: bool
    no_branch_reason: str | None = Field(description="未建党组织原因 as the office recorded it")
    reason: Reason
    reason_label: str
    reasons: list[Reason]
    next_action: NextAction
    next_action_label: str
    next_actions: list[NextAction]

    @classmethod
    def of(cls, gap: Gap, township_code: str, size_band: str, min_full: int) -> GapOut:
        f = gap.facts
        return cls(
            organization_id=f.organization_id,
            credit_code=f.credit_code,
            name=f.name,
            region_code=f.region_code,
            township_code=township_code,
            kind=f.kind,
            industry_code=f.industry_code,
            staff_count=f.staff_count,
            size_band=size_band,
            area_ids=list(f.area_ids),
            three_haves=f.three_haves,
            operating_status=f.operating_status,
            temporary_branch=f.temporary,
            full_members=f.full_members,
            probationary_members=f.probationary_members,
            instructor_count=f.instructor_count,
            mass_organization_count=f.mass_organization_count,
            ledger_complete=f.ledger_complete,
            no_branch_reason=f.no_branch_reason,
            reason=gap.reason,
            reason_label=reason_label(gap.reason, min_full),
            reasons=list(gap.reasons),
            next_action=gap.next_action,
            next_action_label=action_label(gap.next_action),
            next_actions=list(gap.next_actions),
        )


class GapListOut(Page[GapOut]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "region_code": "140212",
                    "metric": "organization",
                    "scope": "with_members",
                    "sort": "region_code",
                    "total": 74,
                    "items": [_GAP_EXAMPLE],
                    "next_cursor": NEXT_CURSOR_EXAMPLE,
                    "next": f"/v1/coverage/140212/gaps?cursor={NEXT_CURSOR_EXAMPLE}&limit=100",
                }
            ]
        }
    )

    region_code: str
    metric: Metric
    scope: coverage_facts.Scope
    sort: str
    total: int = Field(description="gaps matching the filters, over all pages")


@router.get(
    "/{region_code}/gaps",
    response_model=GapListOut,
    summary="The gap list: uncovered organisations in scope, why, and what to do next",
    responses={**PROBLEMS, **SENDS_LINK},
)
async def list_gaps(
    region_code: Text,
    query: Annotated[GapPageQuery, Query()],
    uow: ReadUnitOfWorkDep,
    settings: Settings,
    principal: Reader,
    request: Request,
    response: Response,
) -> GapListOut:
    """Organisations in the metric's scope that are not covered, with why (`reasons`, the
    primary first) and what to do next (`next_actions`, the primary first). `reason` and
    `next_action` filters match any of an item's reasons or actions. Keyset pages: follow
    `next` (or pass `next_cursor` back as `cursor` with the same filters and sort)."""
    region = region_in_scope(region_code, principal)
    min_full = settings.branch_min_full_members
    pages = Paging.of(request, response, query.cursor, query.limit)
    filters = GapFilters.model_validate(query.model_dump(exclude={"cursor", "limit"}))
    after = pages.after((str, int), str)
    selection = filters.gap_filter(region, min_full)
    page = await gap_list.gap_page(
        uow,
        selection,
        sort=query.sort,
        after=None if after is None else (after[0], after[1]),
        limit=pages.fetch,
    )
    return GapListOut.of(
        pages,
        page.lines,
        key=lambda line: (line.sort_value, line.gap.facts.organization_id),
        item=lambda line: GapOut.of(line.gap, line.township_code, line.size_band, min_full),
        region_code=region,
        metric=selection.metric,
        scope=selection.scope,
        sort=query.sort,
        total=page.total,
    )


def content_disposition(region_code: str) -> str:
    """RFC 6266: an ASCII fallback name and the Chinese one, with the region and the date."""
    today = datetime.now(UTC).astimezone(CHINA_TIME).date().isoformat()
    fallback = f"gaps-{region_code}-{today}.xlsx"
    chinese = quote(f"目标对象清单-{region_code}-{today}.xlsx", safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{chinese}"


@router.get(
    "/{region_code}/gaps.xlsx",
    response_class=FileResponse,
    summary="The whole gap list as an XLSX workbook with the headings an office expects",
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}}, **PROBLEMS},
)
async def export_gaps_xlsx(
    region_code: Text,
    query: Annotated[GapFilters, Query()],
    uow: ReadUnitOfWorkDep,
    settings: Settings,
    principal: Reader,
) -> FileResponse:
    """The same list and filters, every row (not paged): read in one streamed query and written
    chunk by chunk to a write-only workbook in a temporary file, which is then sent."""
    region = region_in_scope(region_code, principal)
    selection = query.gap_filter(region, settings.branch_min_full_members)
    path = await gap_list.export_gaps(uow, selection, sort=query.sort)
    return FileResponse(
        path,
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": content_disposition(region)},
        background=BackgroundTask(shutil.rmtree, path.parent, ignore_errors=True),
    )


class ProposedOrganization(BaseModel):
    organization_id: str
    credit_code: str
    name: str
    industry_code: str | None
    full_members: int
    probationary_members: int
    latitude: float | None
    longitude: float | None
    role: Literal["core", "rider"] = Field(
        description="core: brings full members; rider: probationary members only"
    )

    @classmethod
    def of(cls, c: Candidate) -> ProposedOrganization:
        return cls(
            organization_id=c.organization_id,
            credit_code=c.credit_code,
            name=c.name,
            industry_code=c.industry_code,
            full_members=c.full_members,
            probationary_members=c.probationary_members,
            latitude=c.latitude,
            longitude=c.longitude,
            role="rider" if c.is_rider else "core",
        )


class ProposalOut(BaseModel):
    township_code: str = Field(description="Its township; the county's code when industry-wide")
    industry_section: str | None = Field(
        default=None,
        description="Set for an industry-wide joint branch across the county (行业联合党支部)",
    )
    organizations: list[ProposedOrganization]
    full_members: int
    probationary_members: int
    industry_codes: list[str]
    sections: list[str]
    diameter_km: float | None
    explanation: str


class LeftoverOut(BaseModel):
    organization: ProposedOrganization
    township_code: str
    reason: LeftoverReason
    explanation: str


class FillOut(BaseModel):
    branch_id: str
    township_code: str
    existing_organizations: int
    organizations: list[ProposedOrganization] = Field(description="Those proposed to join it")
    explanation: str


class ProposalRulesOut(BaseModel):
    min_full_members: int
    max_organizations: int
    industry_wide: bool


class ProposalsOut(BaseModel):
    region_code: str
    township: str | None
    rules: ProposalRulesOut
    candidates: int
    covered: int = Field(description="candidates placed in a proposed joint branch")
    upper_bound: int = Field(description="no grouping can cover more candidates than this")
    proposals: list[ProposalOut]
    existing_branches: list[FillOut] = Field(
        description="Leftovers proposed to join existing joint branches that have room"
    )
    leftovers: list[LeftoverOut]


@router.get(
    "/{region_code}/joint-branch-proposals",
    response_model=ProposalsOut,
    summary="Proposed joint branches (联合党支部) for uncovered organisations with too few members",
    responses=PROBLEMS,
)
async def list_joint_branch_proposals(
    region_code: Text,
    uow: ReadUnitOfWorkDep,
    settings: Settings,
    principal: Reader,
    township: Annotated[Text | None, Query(pattern=r"^\d{9}$")] = None,
) -> ProposalsOut:
    """Groups managed organisations without a Party organisation that have 1-2 full members
    (and, in free places, those with probationary members only) into joint branches of one
    township, each with at least `branch_min_full_members` full members and at most
    `joint_branch_max_organizations` organisations, same or related industry and close together
    preferred; each proposal explains itself and each leftover says why. Computed per township;
    refused (422) above MAX_PROPOSAL_CANDIDATES candidates: ask per county or `township`."""
    region = region_in_scope(region_code, principal)
    rules = ProposalRules(
        settings.branch_min_full_members,
        settings.joint_branch_max_organizations,
        industry_wide=settings.industry_joint_branches_across_county,
    )
    found = await proposals.joint_branch_proposals(uow, region, rules, township=township)
    plan = found.plan
    return ProposalsOut(
        region_code=region,
        township=township,
        rules=ProposalRulesOut(
            min_full_members=rules.min_full_members,
            max_organizations=rules.max_organizations,
            industry_wide=rules.industry_wide,
        ),
        candidates=found.candidates,
        covered=plan.covered,
        upper_bound=found.upper_bound,
        proposals=[
            ProposalOut(
                township_code=p.township_code,
                industry_section=p.industry_section,
                organizations=[ProposedOrganization.of(m) for m in p.members],
                full_members=p.full_members,
                probationary_members=p.probationary_members,
                industry_codes=p.industry_codes,
                sections=p.sections,
                diameter_km=None if p.diameter_km is None else round(p.diameter_km, 3),
                explanation=p.explanation,
            )
            for p in plan.proposals
        ],
        existing_branches=[
            FillOut(
                branch_id=f.branch.branch_id,
                township_code=f.branch.township_code,
                existing_organizations=len(f.branch.members),
                organizations=[ProposedOrganization.of(m) for m in f.added],
                explanation=f.explanation,
            )
            for f in plan.fills
        ],
        leftovers=[
            LeftoverOut(
                organization=ProposedOrganization.of(left.candidate),
                township_code=left.candidate.township_code,
                reason=left.reason,
                explanation=left.explanation,
            )
            for left in plan.leftovers
        ],
    )
