"""Party organisations: committees and the branches under them, and every rule of forming them.

Kinds of branch (DOMAIN.md): standalone (单独建, one organisation with enough full members),
joint (联合建, organisations too small to stand alone, grouped: 地域相邻、行业相近、便于管理) and
temporary (临时党组织, with an end date; it does not develop members). Every branch is under a
parent committee (行业党委, 综合党委, 园区党委, 两新工委), and an organisation is covered by at
most one active branch. Each refusal is a `RuleBroken` naming the rule and the organisations
concerned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

from libs.common.validators import InvalidCode, canonical_region_code, region_ancestors
from services.registry.domain.organizations import Organization, Rules

BranchKind = Literal["standalone", "joint", "temporary"]
BranchStatus = Literal["active", "dissolved"]
CommitteeKind = Literal["industry", "township", "park", "two_new"]

TOWNSHIP_CODE_LENGTH = 9


class RuleBroken(Exception):
    """A Party rule refused the change: which rule, why, and which organisations it concerns."""

    def __init__(self, rule: str, message: str, organization_ids: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.organization_ids = sorted(set(organization_ids))


@dataclass(frozen=True)
class Advice:
    """Advice, not a refusal: e.g. a joint branch whose organisations are not neighbours."""

    rule: str
    message: str
    organization_ids: list[str]

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "message": self.message,
            "organization_ids": self.organization_ids,
        }


@dataclass(frozen=True)
class Committee:
    """A parent committee: 行业党委 (industry), 综合党委 (township), 园区党委 (park), 两新工委."""

    id: str
    kind: CommitteeKind
    name: str
    region_code: str
    formed_on: date
    parent_id: str | None = None

    def contains(self, region_code: str) -> bool:
        return within(region_code, self.region_code)


@dataclass(frozen=True)
class Candidate:
    """An organisation proposed for a branch, with why it cannot stand alone if it could."""

    organization: Organization
    unable_reason: str | None = None

    @property
    def id(self) -> str:
        return self.organization.id


@dataclass
class Branch:
    """A basic-level Party organisation and the organisations it covers."""

    id: str
    kind: BranchKind
    name: str
    parent_id: str
    region_code: str
    formed_on: date
    organization_ids: list[str]
    ends_on: date | None = None
    can_develop_members: bool = True
    status: BranchStatus = "active"
    warnings: list[dict[str, object]] = field(default_factory=list)
    unable_reasons: dict[str, str] = field(default_factory=dict)
    dissolved_on: date | None = None
    dissolution_reason: str | None = None
    version: int = 1

    @property
    def active(self) -> bool:
        return self.status == "active"


def within(code: str, scope: str) -> bool:
    try:
        return canonical_region_code(code).startswith(canonical_region_code(scope))
    except InvalidCode:
        return False


def common_region(codes: Sequence[str]) -> str:
    """The deepest region containing every code (their common ancestor)."""
    lines = [region_ancestors(code) for code in codes]
    common = lines[0]
    for line in lines[1:]:
        common = [a for a, b in zip(common, line, strict=False) if a == b]
    if not common:
        raise RuleBroken("same_province", "the organisations are not in one province")
    return common[-1]


def check_committee(region_code: str, parent: Committee | None) -> None:
    """A committee lies inside its parent committee's region (the tree follows the regions)."""
    if parent is not None and not parent.contains(region_code):
        raise RuleBroken(
            "committee_within_parent",
            f"the committee's region {region_code} is outside its parent's {parent.region_code}",
        )


def check_coverable(
    candidates: Sequence[Candidate],
    covering: dict[str, str | None],
    committee: Committee,
    *,
    branch_id: str | None = None,
) -> None:
    """Active organisations, inside the committee's region, not covered by another branch.

    `covering` maps each organisation id to the active branch covering it now (or None)."""
    ids = [c.id for c in candidates]
    if not ids:
        raise RuleBroken("organizations_required", "a branch covers at least one organisation")
    if len(set(ids)) != len(ids):
        repeated = [i for i in ids if ids.count(i) > 1]
        raise RuleBroken("organization_listed_once", "an organisation is listed twice", repeated)
    inactive = [c.id for c in candidates if not c.organization.active]
    if inactive:
        raise RuleBroken(
            "organization_active", "deregistered organisations cannot be covered", inactive
        )
    outside = [c.id for c in candidates if not committee.contains(c.organization.region_code)]
    if outside:
        raise RuleBroken(
            "within_parent_committee",
            f"organisations outside the region {committee.region_code} of the parent committee",
            outside,
        )
    taken = [i for i in ids if covering.get(i) not in (None, branch_id)]
    if taken:
        raise RuleBroken(
            "one_active_branch_per_organization",
            "these organisations are already covered by another active branch "
            "(reorganise or dissolve it first)",
            taken,
        )


def check_standalone(candidates: Sequence[Candidate], rules: Rules) -> None:
    if len(candidates) != 1:
        raise RuleBroken(
            "standalone_single_organization",
            "a standalone branch covers exactly one organisation",
            [c.id for c in candidates],
        )
    organization = candidates[0].organization
    if organization.full_members < rules.standalone_min_full_members:
        raise RuleBroken(
            "standalone_min_full_members",
            f"a standalone branch needs {rules.standalone_min_full_members} or more full members; "
            f"the organisation has {organization.full_members}",
            [organization.id],
        )


def check_joint(
    candidates: Sequence[Candidate], rules: Rules, *, new: Sequence[Candidate] | None = None
) -> None:
    """The joint-branch rules on the whole set; `new` (default: all) must be unable alone."""
    ids = [c.id for c in candidates]
    if len(candidates) < 2:
        raise RuleBroken(
            "joint_min_organizations", "a joint branch covers two or more organisations", ids
        )
    if len(candidates) > rules.joint_max_organizations:
        raise RuleBroken(
            "joint_max_organizations",
            f"a joint branch covers at most {rules.joint_max_organizations} organisations, "
            f"not {len(candidates)}",
            ids,
        )
    could = [
        c.id
        for c in (candidates if new is None else new)
        if c.organization.full_members >= rules.standalone_min_full_members
        and not (c.unable_reason or "").strip()
    ]
    if could:
        raise RuleBroken(
            "joint_only_below_standalone",
            f"organisations with {rules.standalone_min_full_members} or more full members form "
            "their own branch unless a reason says why they cannot (unable_reason)",
            could,
        )
    total = sum(c.organization.full_members for c in candidates)
    if total < rules.standalone_min_full_members:
        raise RuleBroken(
            "joint_min_full_members",
            f"a joint branch needs {rules.standalone_min_full_members} or more full members "
            f"together; these organisations have {total}",
            ids,
        )


def check_temporary(formed_on: date, ends_on: date | None) -> None:
    if ends_on is None:
        raise RuleBroken("temporary_end_date", "a temporary branch needs an end date (ends_on)")
    if ends_on <= formed_on:
        raise RuleBroken("temporary_end_date", "a temporary branch must end after it is formed")


def township_of(region_code: str) -> str:
    """The township a code lies in, or the code itself when it is coarser than a township."""
    canonical = canonical_region_code(region_code)
    return canonical[:TOWNSHIP_CODE_LENGTH]


def joint_warnings(candidates: Sequence[Candidate], rules: Rules) -> list[Advice]:
    """地域相邻、行业相近: a joint branch across townships or industries is allowed, with advice."""
    warnings: list[Advice] = []
    ids = sorted(c.id for c in candidates)
    townships = {township_of(c.organization.region_code) for c in candidates}
    if len(townships) > 1:
        warnings.append(
            Advice(
                "same_township",
                "the organisations are not in the same township (地域相邻)",
                ids,
            )
        )
    sections = {c.organization.industry_code[0] for c in candidates if c.organization.industry_code}
    if len(sections) > 1 or (
        sections and any(not c.organization.industry_code for c in candidates)
    ):
        warnings.append(
            Advice(
                "same_industry",
                "the organisations are not in the same industry section of GB/T 4754 (行业相近)",
                ids,
            )
        )
    ready = sorted(
        c.id for c in candidates if c.organization.full_members >= rules.standalone_min_full_members
    )
    if ready:
        warnings.append(
            Advice(
                "could_stand_alone",
                "these organisations have enough full members for their own branch (upgrade them)",
                ready,
            )
        )
    return warnings


def plan_branch(
    kind: BranchKind,
    candidates: Sequence[Candidate],
    committee: Committee,
    covering: dict[str, str | None],
    rules: Rules,
    *,
    formed_on: date,
    ends_on: date | None,
) -> list[Advice]:
    """Check a new branch against every rule; the warnings to show with it."""
    check_coverable(candidates, covering, committee)
    if kind == "standalone":
        check_standalone(candidates, rules)
        if ends_on is not None:
            raise RuleBroken("end_date_only_temporary", "only a temporary branch has an end date")
        return []
    if kind == "joint":
        if ends_on is not None:
            raise RuleBroken("end_date_only_temporary", "only a temporary branch has an end date")
        check_joint(candidates, rules)
        return joint_warnings(candidates, rules)
    check_temporary(formed_on, ends_on)
    return []


def plan_reorganization(
    branch: Branch,
    remaining: Sequence[Candidate],
    added: Sequence[Candidate],
    committee: Committee,
    covering: dict[str, str | None],
    rules: Rules,
) -> list[Advice]:
    """Check the branch as it will be: `remaining` kept, `added` joining. Returns its warnings."""
    if not branch.active:
        raise RuleBroken(
            "branch_active", "a dissolved branch cannot be reorganised", branch.organization_ids
        )
    after = [*remaining, *added]
    check_coverable(after, covering, committee, branch_id=branch.id)
    if branch.kind == "standalone":
        check_standalone(after, rules)
        return []
    if branch.kind == "joint":
        check_joint(after, rules, new=added)
        return joint_warnings(after, rules)
    return []


def check_upgrade(branch: Branch, candidate: Candidate, rules: Rules) -> None:
    """An organisation of a joint branch leaves it for its own standalone branch."""
    if branch.kind != "joint":
        raise RuleBroken(
            "upgrade_from_joint",
            "only an organisation of a joint branch is upgraded to a standalone branch",
            [candidate.id],
        )
    if candidate.id not in branch.organization_ids:
        raise RuleBroken(
            "upgrade_from_joint", "the organisation is not covered by this branch", [candidate.id]
        )
    check_standalone([candidate], rules)


def dissolved(branch: Branch, *, on: date, reason: str) -> Branch:
    if not branch.active:
        raise RuleBroken(
            "branch_active", "the branch is already dissolved", branch.organization_ids
        )
    if on < branch.formed_on:
        raise RuleBroken("dissolution_date", "a branch cannot be dissolved before it was formed")
    return replace(
        branch,
        status="dissolved",
        dissolved_on=on,
        dissolution_reason=reason,
        version=branch.version + 1,
    )
