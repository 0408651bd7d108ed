"""Joint-branch proposals (联合党支部组建建议) for a region's uncovered small organisations."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from services.coverage.domain.proposals import (
    ProposalPlan,
    ProposalRules,
    TooManyCandidates,
    coverage_upper_bound,
    fill_existing_branches,
    industry_wide_branches,
    propose_joint_branches,
)
from services.coverage.store.uow import CoverageUnitOfWork

#: Above this many candidates (a large city or more) proposals are refused: ask per county or
#: township. A county has some hundreds; 5,000 take a few seconds of one core.
MAX_PROPOSAL_CANDIDATES = 5_000


@dataclass(frozen=True)
class Proposals:
    """The plan for a region's candidates, with how many there were and the most any plan
    could cover."""

    candidates: int
    upper_bound: int
    plan: ProposalPlan


async def joint_branch_proposals(
    uow: CoverageUnitOfWork, region_code: str, rules: ProposalRules, *, township: str | None
) -> Proposals:
    """Proposals per township of the region (or of one township), the leftovers then placed in
    existing joint branches with room and, when the rules allow, in industry-wide joint branches
    across the county; TooManyCandidates above MAX_PROPOSAL_CANDIDATES candidates."""
    limit = MAX_PROPOSAL_CANDIDATES
    candidates = await uow.gaps.joint_branch_candidates(
        region_code, rules.min_full_members, township=township, limit=limit + 1
    )
    if len(candidates) > limit:
        raise TooManyCandidates(limit)
    plan = await asyncio.to_thread(propose_joint_branches, candidates, rules)
    day = await uow.projection.projection_day(lock=False)
    plan = fill_existing_branches(plan, await uow.gaps.joint_branches(region_code, day), rules)
    plan = industry_wide_branches(plan, rules)
    return Proposals(len(candidates), coverage_upper_bound(candidates, rules), plan)
