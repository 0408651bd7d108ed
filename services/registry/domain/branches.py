"""Party organisations: committees and the branches under them, and every rule of forming them.

Kinds of branch (DOMAIN.md): standalone (单独建, one organisation with enough full members),
joint (联合建, organisations too small to stand alone, grouped: 地域相邻、行业相近、便于管理) and
temporary (临时党组织, with an end date; it does not develop members). Every branch is under a
parent committee (行业党委, 综合党委, 园区党委, 两新工委), and an organisation is covered by at
most one active branch. Each refusal is a `RuleBroken` naming the rule and the organisations
concerned; the use cases load what the checks need and persist what they plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

from libs.common.calendar import add_months
from libs.common.personal import mask_attributes, mask_personal
from libs.common.refusals import Conflict, Invalid, NotFound, RuleBroken
from libs.common.validators import InvalidCode, canonical_region_code, region_ancestors
from services.registry.domain.organizations import Organization, OrganizationNotFound, Rules

BranchKind = Literal["standalone", "joint", "temporary"]
BranchStatus = Literal["active", "needs_rectification", "dissolved"]
CommitteeKind = Literal["industry", "township", "park", "two_new"]

TOWNSHIP_CODE_LENGTH = 9


class CommitteeNotFound(NotFound):
    """No such committee, or none the caller sees."""

    def __init__(self, committee_id: str) -> None:
        super().__init__("committee not found")
        self.committee_id = committee_id


class ParentCommitteeNotFound(Invalid):
    """The committee named as parent (`parent_id`) does not exist for the caller."""

    def __init__(self, committee_id: str) -> None:
        super().__init__("parent_id", "no such committee", message="parent committee not found")
        self.committee_id = committee_id


class BranchNotFound(NotFound):
    """No such branch, or none in the caller's region."""

    def __init__(self, branch_id: str) -> None:
        super().__init__("branch not found")
        self.branch_id = branch_id


class StaleBranch(Conflict):
    """The branch changed while this change was being made."""

    def __init__(self, branch_id: str) -> None:
        super().__init__("the branch changed meanwhile; read it again")
        self.branch_id = branch_id


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

    def __post_init__(self) -> None:
        mask_attributes(self, "name")

    def contains(self, region_code: str) -> bool:
        return within(region_code, self.region_code)


@dataclass(frozen=True)
class Candidate:
    """An organisation proposed for a branch, with why it cannot stand alone if it could."""

    organization: Organization
    unable_reason: str | None = None

    def __post_init__(self) -> None:
        mask_attributes(self, "unable_reason")

    @property
    def id(self) -> str:
        return self.organization.id


@dataclass(frozen=True)
class Covered:
    """An organisation a request asks a branch to cover, and why it cannot stand alone."""

    organization_id: str
    unable_reason: str | None = None

    def __post_init__(self) -> None:
        mask_attributes(self, "unable_reason")


@dataclass(frozen=True)
class Upgrade:
    """A joint branch member to get its own standalone branch, and that branch's name."""

    organization_id: str
    name: str

    def __post_init__(self) -> None:
        mask_attributes(self, "name")


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
    rectification_reason: str | None = None
    rectify_by: date | None = None
    reparenting_reason: str | None = None

    def __post_init__(self) -> None:
        # A phone or ID number typed into free text is masked however the branch is made.
        mask_attributes(
            self, "name", "dissolution_reason", "rectification_reason", "reparenting_reason"
        )
        self.unable_reasons = {k: mask_personal(v) for k, v in self.unable_reasons.items()}

    @property
    def active(self) -> bool:
        """It exists and covers its organisations: a branch needing rectification still does."""
        return self.status != "dissolved"

    @property
    def needs_reparenting(self) -> bool:
        return self.reparenting_reason is not None


def within(code: str, scope: str) -> bool:
    try:
        return canonical_region_code(code).startswith(canonical_region_code(scope))
    except InvalidCode:
        return False


def committee_visible(committee: Committee, scope: str) -> bool:
    """A caller sees the committees of its subtree and those above it (its 两新工委, say)."""
    return within(committee.region_code, scope) or within(scope, committee.region_code)


def visible_organizations(
    found: Mapping[str, Organization], ids: Sequence[str], scope: str
) -> Mapping[str, Organization]:
    """`found` (the organisations loaded by id), refusing the first of `ids` missing from it
    or outside the caller's region `scope`: for the caller it does not exist."""
    for organization_id in ids:
        organization = found.get(organization_id)
        if organization is None or not within(organization.region_code, scope):
            raise OrganizationNotFound(organization_id)
    return found


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


def joint_refusals(
    candidates: Sequence[Candidate], rules: Rules, *, new: Sequence[Candidate] | None = None
) -> list[tuple[bool, RuleBroken]]:
    """Every joint-branch rule the set breaks, in order, each with whether it is a shortfall
    (too few organisations or full members: a fact a reorganisation records, see
    `plan_reorganization`) rather than a choice (too many, or one that could stand alone)."""
    ids = [c.id for c in candidates]
    broken: list[tuple[bool, RuleBroken]] = []
    if len(candidates) < 2:
        broken.append(
            (
                True,
                RuleBroken(
                    "joint_min_organizations",
                    "a joint branch covers two or more organisations",
                    ids,
                ),
            )
        )
    if len(candidates) > rules.joint_max_organizations:
        broken.append(
            (
                False,
                RuleBroken(
                    "joint_max_organizations",
                    f"a joint branch covers at most {rules.joint_max_organizations} organisations, "
                    f"not {len(candidates)}",
                    ids,
                ),
            )
        )
    could = [
        c.id
        for c in (candidates if new is None else new)
        if c.organization.full_members >= rules.standalone_min_full_members
        and not (c.unable_reason or "").strip()
    ]
    if could:
        broken.append(
            (
                False,
                RuleBroken(
                    "joint_only_below_standalone",
                    f"organisations with {rules.standalone_min_full_members} or more full members "
                    "form their own branch unless a reason says why they cannot (unable_reason)",
                    could,
                ),
            )
        )
    total = sum(c.organization.full_members for c in candidates)
    if total < rules.standalone_min_full_members:
        broken.append(
            (
                True,
                RuleBroken(
                    "joint_min_full_members",
                    f"a joint branch needs {rules.standalone_min_full_members} or more full "
                    f"members together; these organisations have {total}",
                    ids,
                ),
            )
        )
    return broken


def check_joint(
    candidates: Sequence[Candidate], rules: Rules, *, new: Sequence[Candidate] | None = None
) -> None:
    """The joint-branch rules on the whole set; `new` (default: all) must be unable alone."""
    for _, refusal in joint_refusals(candidates, rules, new=new):
        raise refusal


def joint_shortfall(
    candidates: Sequence[Candidate], rules: Rules, *, new: Sequence[Candidate] | None = None
) -> str | None:
    """A reorganised joint branch: a choice that breaks the rules is refused; a shortfall is
    returned as the reason the branch needs rectification (None when it meets the rules)."""
    broken = joint_refusals(candidates, rules, new=new)
    for shortfall, refusal in broken:
        if not shortfall:
            raise refusal
    return broken[0][1].message if broken else None


def check_temporary(
    candidates: Sequence[Candidate], formed_on: date, ends_on: date | None, today: date
) -> None:
    """A temporary branch (临时党组织) ends after it is formed and not before today, and every
    organisation it serves has Party members there (it exists for them)."""
    if ends_on is None:
        raise RuleBroken("temporary_end_date", "a temporary branch needs an end date (ends_on)")
    if ends_on <= formed_on:
        raise RuleBroken("temporary_end_date", "a temporary branch must end after it is formed")
    if ends_on < today:
        raise RuleBroken(
            "temporary_end_date", f"the end date {ends_on} has passed: the branch would be over"
        )
    empty = [
        c.id
        for c in candidates
        if c.organization.full_members + c.organization.probationary_members == 0
    ]
    if empty:
        raise RuleBroken(
            "temporary_members_required",
            "a temporary branch serves Party members working there; these organisations have none",
            empty,
        )


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
    today: date,
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
    check_temporary(candidates, formed_on, ends_on, today)
    return []


def new_branch(
    branch_id: str,
    kind: BranchKind,
    name: str,
    committee: Committee,
    candidates: Sequence[Candidate],
    advice: Sequence[Advice],
    *,
    formed_on: date,
    ends_on: date | None,
) -> Branch:
    """The branch `plan_branch` accepted, as it is formed."""
    return Branch(
        id=branch_id,
        kind=kind,
        name=name,
        parent_id=committee.id,
        region_code=common_region([c.organization.region_code for c in candidates]),
        formed_on=formed_on,
        organization_ids=sorted(c.id for c in candidates),
        ends_on=ends_on,
        can_develop_members=kind != "temporary",
        warnings=[a.as_dict() for a in advice],
        unable_reasons={c.id: c.unable_reason for c in candidates if c.unable_reason},
    )


def plan_reorganization(
    branch: Branch,
    remaining: Sequence[Candidate],
    added: Sequence[Candidate],
    committee: Committee,
    covering: dict[str, str | None],
    rules: Rules,
) -> tuple[list[Advice], str | None]:
    """Check the branch as it will be: `remaining` kept, `added` joining. Returns its warnings
    and, for a joint branch left with too few organisations or full members, why it needs
    rectification: an organisation that leaves has left (a fact), so that is recorded, not
    refused; the office then has `rectification_months` to put it right."""
    if not branch.active:
        raise RuleBroken(
            "branch_active", "a dissolved branch cannot be reorganised", branch.organization_ids
        )
    after = [*remaining, *added]
    check_coverable(after, covering, committee, branch_id=branch.id)
    if branch.kind == "standalone":
        check_standalone(after, rules)
        return [], None
    if branch.kind == "joint":
        shortfall = joint_shortfall(after, rules, new=added)
        return joint_warnings(after, rules), shortfall
    return [], None


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


@dataclass(frozen=True)
class Reorganization:
    """A reorganisation every rule accepted: the branch as it will be, who joins it, who leaves
    it, and the organisations leaving for a standalone branch of their own (with its name)."""

    after: Branch
    added_ids: list[str]
    leaving: list[str]
    upgrades: list[tuple[Candidate, str]]


def check_leaving(branch: Branch, leaving: Sequence[str]) -> None:
    """Only an active branch is reorganised; those leaving it are its own, each named once."""
    if not branch.active:
        raise RuleBroken(
            "branch_active", "a dissolved branch cannot be reorganised", branch.organization_ids
        )
    strangers = [i for i in leaving if i not in branch.organization_ids]
    if strangers:
        raise RuleBroken(
            "covered_by_this_branch", "these organisations are not covered by the branch", strangers
        )
    if len(set(leaving)) != len(leaving):
        raise RuleBroken(
            "organization_listed_once",
            "an organisation is both removed and upgraded, or listed twice",
            [i for i in leaving if leaving.count(i) > 1],
        )


def check_reorganization(
    branch: Branch,
    committee: Committee,
    found: Mapping[str, Organization],
    covering: dict[str, str | None],
    rules: Rules,
    *,
    add: Sequence[Covered],
    remove: Sequence[str],
    upgrade: Sequence[Upgrade],
    scope: str,
    on: date,
) -> Reorganization:
    """Check adding `add`, removing `remove` and upgrading `upgrade` against every rule.

    `found` holds the organisations the branch covers and those to add (any missing one, or
    one outside `scope`, is not found); `covering` the branch covering each one to add."""
    leaving = [*remove, *(u.organization_id for u in upgrade)]
    check_leaving(branch, leaving)
    added_ids = [c.organization_id for c in add]
    visible = visible_organizations(found, [*branch.organization_ids, *added_ids], scope)
    remaining = [
        Candidate(visible[i], branch.unable_reasons.get(i))
        for i in branch.organization_ids
        if i not in leaving
    ]
    added = [Candidate(visible[c.organization_id], c.unable_reason) for c in add]
    advice, shortfall = plan_reorganization(branch, remaining, added, committee, covering, rules)
    upgrades = [(Candidate(visible[u.organization_id]), u.name) for u in upgrade]
    for candidate, _ in upgrades:
        check_upgrade(branch, candidate, rules)
    after = reorganized(
        branch, [*remaining, *added], advice, shortfall=shortfall, on=on, rules=rules
    )
    return Reorganization(after, added_ids, leaving, upgrades)


def reorganized(
    branch: Branch,
    kept: Sequence[Candidate],
    advice: Sequence[Advice],
    *,
    shortfall: str | None,
    on: date,
    rules: Rules,
) -> Branch:
    """The branch covering `kept`, one version on: `needs_rectification` (with the reason and
    the deadline, kept from an earlier shortfall) while `shortfall` says why, else active."""
    if shortfall is None:
        status: BranchStatus = "active"
        rectify_by = None
    else:
        status = "needs_rectification"
        rectify_by = branch.rectify_by or add_months(on, rules.rectification_months)
    return replace(
        branch,
        organization_ids=sorted(c.id for c in kept),
        region_code=common_region([c.organization.region_code for c in kept]),
        warnings=[a.as_dict() for a in advice],
        unable_reasons={c.id: c.unable_reason for c in kept if c.unable_reason},
        status=status,
        rectification_reason=shortfall,
        rectify_by=rectify_by,
        version=branch.version + 1,
    )


@dataclass(frozen=True)
class Departure:
    """What an organisation leaving the ledger does to the branch covering it: a branch it
    alone made up is dissolved; otherwise it is removed from the branch (`after`)."""

    before: Branch
    after: Branch
    dissolves: bool


def plan_departure(
    branch: Branch,
    organization_id: str,
    found: Mapping[str, Organization],
    rules: Rules,
    *,
    on: date,
    reason: str,
) -> Departure:
    """The branch once `organization_id` has left the ledger (注销, 吊销, moved away).

    `found` holds the organisations the branch covers. A standalone branch, or any branch
    covering no other organisation, is dissolved with it; a joint or temporary branch loses it,
    and a joint branch below the rules then needs rectification (`reorganized`)."""
    kept = [
        Candidate(found[i], branch.unable_reasons.get(i))
        for i in branch.organization_ids
        if i != organization_id and i in found
    ]
    if branch.kind == "standalone" or not kept:
        return Departure(
            branch, dissolved(branch, on=max(on, branch.formed_on), reason=reason), True
        )
    shortfall = None
    advice: list[Advice] = []
    if branch.kind == "joint":
        shortfall = next((r.message for short, r in joint_refusals(kept, rules) if short), None)
        advice = joint_warnings(kept, rules)
    after = reorganized(branch, kept, advice, shortfall=shortfall, on=on, rules=rules)
    return Departure(branch, after, False)


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
        rectification_reason=None,
        rectify_by=None,
        version=branch.version + 1,
    )


def relocated(
    branch: Branch,
    committee: Committee,
    found: Mapping[str, Organization],
    moved: Organization,
    before_region: str,
) -> Branch | None:
    """The branch after `moved`, one of its organisations, changed region (None if nothing
    changes): its region follows its organisations, and a move to another township, or out of
    the committee's region, flags it for re-parenting (the office decides its new parent)."""
    regions = [found[i].region_code for i in branch.organization_ids if i in found]
    region_code = common_region(regions) if regions else branch.region_code
    reason = branch.reparenting_reason
    if not committee.contains(moved.region_code):
        reason = (
            f"organisation {moved.id} moved to {moved.region_code}, outside the region "
            f"{committee.region_code} of the branch's committee"
        )
    elif township_of(moved.region_code) != township_of(before_region):
        reason = (
            f"organisation {moved.id} moved from township {township_of(before_region)} to "
            f"{township_of(moved.region_code)}: confirm or change the branch's committee"
        )
    if region_code == branch.region_code and reason == branch.reparenting_reason:
        return None
    return replace(
        branch, region_code=region_code, reparenting_reason=reason, version=branch.version + 1
    )


def reparented(branch: Branch, committee: Committee, found: Mapping[str, Organization]) -> Branch:
    """The branch under `committee`, which must hold every organisation it covers; any flag
    for re-parenting is cleared (the office has decided)."""
    if not branch.active:
        raise RuleBroken(
            "branch_active", "a dissolved branch cannot be re-parented", branch.organization_ids
        )
    outside = [
        i
        for i in branch.organization_ids
        if i in found and not committee.contains(found[i].region_code)
    ]
    if outside:
        raise RuleBroken(
            "within_parent_committee",
            f"organisations outside the region {committee.region_code} of the parent committee",
            outside,
        )
    return replace(
        branch, parent_id=committee.id, reparenting_reason=None, version=branch.version + 1
    )


def size_advice(branch: Branch, found: Mapping[str, Organization], rules: Rules) -> list[Advice]:
    """Advice when a branch's members call for another kind of organisation: 50 or more a
    general branch (党总支), 100 or more a committee (基层党委, with approval); settings."""
    members = sum(
        found[i].full_members + found[i].probationary_members
        for i in branch.organization_ids
        if i in found
    )
    ids = sorted(branch.organization_ids)
    if members >= rules.committee_min_members:
        return [
            Advice(
                "committee_size",
                f"{members} members: a committee (基层党委) is advised, with approval "
                f"({rules.committee_min_members} or more)",
                ids,
            )
        ]
    if members >= rules.general_branch_min_members:
        return [
            Advice(
                "general_branch_size",
                f"{members} members: a general branch (党总支) is advised "
                f"({rules.general_branch_min_members} or more)",
                ids,
            )
        ]
    return []
