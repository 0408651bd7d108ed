"""Joint-branch proposals (联合党支部组建建议): grouping organisations too small for a branch.

Candidates are managed organisations without a Party organisation that have 1 to
`min_full_members - 1` full members (*cores*), or probationary members only (*riders*).

Constraints (always hold): a group lies in one township (乡镇/街道); it has at most
`max_organizations` organisations and at least `min_full_members` full members. Riders bring no
full member, so they never help a group reach the minimum; they join groups that have a free
place, because their probationary members become full within a year and the joint branch is the
organisation they belong to meanwhile. They come second: a rider never displaces a core.

Objective, in this order: cover as many organisations as possible; then compact groups, by a
cost in kilometre-equivalents: the group's diameter (haversine, over members with coordinates),
plus `SECTION_MISMATCH_KM` per extra GB/T 4754 section (门类, the code's letter; same section is
"related industry"), `CODE_MISMATCH_KM` per extra code within a section, and
`UNKNOWN_LOCATION_KM` per member without coordinates.

Method, per township: seed-and-grow greedy (a seed, then the candidate that adds least cost
until the group reaches the minimum: minimal groups leave places for riders and keep diameters
small), run twice (the most isolated seed first; the best-connected seed first); cores that
cannot complete a group join the group where they add least cost; then local search moves and
swaps cores between neighbouring groups while the cost falls; riders fill free places, cheapest
first. The better of the two runs is kept. `first_fit` is the naive baseline and
`coverage_upper_bound` a sound bound on the organisations any plan can cover.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import groupby

from libs.common.refusals import Invalid

SECTION_MISMATCH_KM = 5.0
CODE_MISMATCH_KM = 1.0
UNKNOWN_LOCATION_KM = 1.0
NEIGHBOURS = 6  # local search looks at groups holding one of a member's nearest candidates
GROW_POOL = 12  # a growing group looks at its members' nearest candidates first
MAX_PASSES = 20
EARTH_RADIUS_KM = 6371.0088
_EPSILON = 1e-9


class TooManyCandidates(Invalid):
    """More candidates than one request plans for: the caller asks per county or township."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            "region_code",
            f"more than {limit} candidates: ask for a county, "
            "or one township at a time (township=...)",
            message="too many candidates for one request",
        )


@dataclass(frozen=True)
class ProposalRules:
    min_full_members: int = 3
    max_organizations: int = 5
    #: Whether organisations a township cannot group may be proposed for an industry-wide joint
    #: branch (行业联合党支部) across their county, one GB/T 4754 section each.
    industry_wide: bool = False

    def __post_init__(self) -> None:
        if self.min_full_members < 1 or self.max_organizations < self.min_full_members:
            raise ValueError("need 1 <= min_full_members <= max_organizations")


@dataclass(frozen=True)
class Candidate:
    """An uncovered organisation that could belong to a joint branch."""

    organization_id: str
    township_code: str
    full_members: int
    probationary_members: int = 0
    industry_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    name: str = ""
    credit_code: str = ""

    @property
    def section(self) -> str | None:
        """The GB/T 4754 section (门类) letter: same section is a related industry."""
        return self.industry_code[0].upper() if self.industry_code else None

    @property
    def located(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    @property
    def is_rider(self) -> bool:
        return self.full_members == 0


def is_candidate(full_members: int, probationary_members: int, rules: ProposalRules) -> bool:
    return full_members < rules.min_full_members and full_members + probationary_members > 0


def haversine_km(a: Candidate, b: Candidate) -> float | None:
    if not (a.located and b.located):
        return None
    lat1, lon1 = math.radians(a.latitude or 0.0), math.radians(a.longitude or 0.0)
    lat2, lon2 = math.radians(b.latitude or 0.0), math.radians(b.longitude or 0.0)
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def diameter_km(members: Sequence[Candidate]) -> float | None:
    """Largest distance between two members with coordinates; None below two of them."""
    located = [m for m in members if m.located]
    if len(located) < 2:
        return None
    return max(haversine_km(a, b) or 0.0 for i, a in enumerate(located) for b in located[i + 1 :])


def group_cost(members: Sequence[Candidate]) -> float:
    sections = {m.section for m in members if m.section}
    codes = {m.industry_code for m in members if m.industry_code}
    return (
        SECTION_MISMATCH_KM * max(0, len(sections) - 1)
        + CODE_MISMATCH_KM * max(0, len(codes) - len(sections))
        + (diameter_km(members) or 0.0)
        + UNKNOWN_LOCATION_KM * sum(1 for m in members if not m.located)
    )


class LeftoverReason(StrEnum):
    TOWNSHIP_BELOW_MINIMUM = "township_full_members_below_minimum"
    NO_FREE_PLACE = "no_free_place_in_township"


@dataclass(frozen=True)
class JointBranchProposal:
    """A proposed joint branch and why these organisations belong together."""

    township_code: str  # the county's code for an industry-wide branch
    members: tuple[Candidate, ...]
    rules: ProposalRules = field(compare=False)
    industry_section: str | None = None  # set for an industry-wide branch across a county

    @property
    def full_members(self) -> int:
        return sum(m.full_members for m in self.members)

    @property
    def probationary_members(self) -> int:
        return sum(m.probationary_members for m in self.members)

    @property
    def industry_codes(self) -> list[str]:
        return sorted({m.industry_code for m in self.members if m.industry_code})

    @property
    def sections(self) -> list[str]:
        return sorted({s for m in self.members if (s := m.section)})

    @property
    def diameter_km(self) -> float | None:
        return diameter_km(self.members)

    @property
    def cost(self) -> float:
        return group_cost(self.members)

    @property
    def explanation(self) -> str:
        sections, codes = self.sections, self.industry_codes
        if not codes:
            industry = "行业代码未知"
        elif len(codes) == 1:
            industry = f"同一行业（{codes[0]}）"
        elif len(sections) == 1:
            industry = f"行业相近：同属{sections[0]}门类（{'、'.join(codes)}）"
        else:
            industry = f"行业跨{len(sections)}个门类（{'、'.join(sections)}）"
        unlocated = sum(1 for m in self.members if not m.located)
        diameter = self.diameter_km
        distance = "位置未知，未计距离" if diameter is None else f"最远两家相距{diameter:.1f}公里"
        if diameter is not None and unlocated:
            distance += f"（{unlocated}个组织无坐标）"
        probationary = (
            f"、预备党员{self.probationary_members}名" if self.probationary_members else ""
        )
        where = (
            f"同一乡镇（街道）{self.township_code}"
            if self.industry_section is None
            else f"县（区）{self.township_code}跨乡镇（街道）的{self.industry_section}门类"
            "行业联合党支部（按设置允许）"
        )
        return (
            f"{where}；{industry}；{distance}；"
            f"正式党员合计{self.full_members}名（不少于{self.rules.min_full_members}名）"
            f"{probationary}；{len(self.members)}个组织"
            f"（不超过{self.rules.max_organizations}个）"
        )


@dataclass(frozen=True)
class Leftover:
    """A candidate no proposal could take, and why."""

    candidate: Candidate
    reason: LeftoverReason
    township_full_members: int
    rules: ProposalRules = field(compare=False)

    @property
    def explanation(self) -> str:
        if self.reason is LeftoverReason.TOWNSHIP_BELOW_MINIMUM:
            return (
                f"所在乡镇（街道）未覆盖组织的正式党员合计{self.township_full_members}名，"
                f"不足{self.rules.min_full_members}名，无法联合组建；"
                "建议选派党建指导员、培养发展党员，或就近纳入已有党组织"
            )
        return (
            f"所在乡镇（街道）的建议联合党支部均已达{self.rules.max_organizations}个组织上限；"
            "建议纳入已有党组织或待党员转正后再组建"
        )


@dataclass(frozen=True)
class ExistingJointBranch:
    """A joint branch that counts today, with the organisations it covers (their township,
    industry and place, as candidates are described)."""

    branch_id: str
    members: tuple[Candidate, ...]

    @property
    def township_code(self) -> str:
        """Where most of its organisations are (ties: the lowest code)."""
        counted = Counter(m.township_code for m in self.members)
        return min(counted, key=lambda t: (-counted[t], t))


@dataclass(frozen=True)
class BranchFill:
    """Organisations proposed to join an existing joint branch with room (纳入已有联合党支部)."""

    branch: ExistingJointBranch
    added: tuple[Candidate, ...]
    rules: ProposalRules = field(compare=False)

    @property
    def explanation(self) -> str:
        before = len(self.branch.members)
        return (
            f"已有联合党支部{self.branch.branch_id}（乡镇（街道）{self.branch.township_code}）"
            f"现有{before}个组织，纳入{len(self.added)}个后共{before + len(self.added)}个"
            f"（不超过{self.rules.max_organizations}个）"
        )


@dataclass(frozen=True)
class ProposalPlan:
    proposals: tuple[JointBranchProposal, ...]
    leftovers: tuple[Leftover, ...]
    fills: tuple[BranchFill, ...] = ()

    @property
    def covered(self) -> int:
        return sum(len(p.members) for p in self.proposals) + sum(len(f.added) for f in self.fills)

    @property
    def cost(self) -> float:
        return sum(p.cost for p in self.proposals)

    def better_than(self, other: ProposalPlan) -> bool:
        if self.covered != other.covered:
            return self.covered > other.covered
        return self.cost < other.cost - _EPSILON


# --------------------------------------------------------------------------------------------
# Bound and baseline
# --------------------------------------------------------------------------------------------


def _by_township(candidates: Iterable[Candidate]) -> list[tuple[str, list[Candidate]]]:
    ordered = sorted(candidates, key=lambda c: (c.township_code, c.organization_id))
    return [(t, list(group)) for t, group in groupby(ordered, key=lambda c: c.township_code)]


def coverage_upper_bound(candidates: Iterable[Candidate], rules: ProposalRules) -> int:
    """No plan covers more organisations than this.

    Per township with F uncovered full members among its cores: groups are disjoint and each
    needs `min_full_members` full members, so there are at most floor(F / min) of them, each
    with at most `max_organizations` organisations; and no more than the township's candidates.
    """
    bound = 0
    for _, members in _by_township(candidates):
        full = sum(c.full_members for c in members)
        groups = full // rules.min_full_members
        bound += min(len(members), groups * rules.max_organizations)
    return bound


def first_fit(candidates: Iterable[Candidate], rules: ProposalRules) -> ProposalPlan:
    """The naive baseline: per township, cores in id order fill a group until it reaches the
    minimum, then the next; an unfinished last group is left over; riders take the first free
    place."""
    proposals: list[JointBranchProposal] = []
    leftovers: list[Leftover] = []
    for township, members in _by_township(candidates):
        total = sum(c.full_members for c in members)
        groups: list[list[Candidate]] = []
        current: list[Candidate] = []
        for core in (c for c in members if not c.is_rider):
            current.append(core)
            if sum(c.full_members for c in current) >= rules.min_full_members:
                groups.append(current)
                current = []
        for rider in (c for c in members if c.is_rider):
            place = next((g for g in groups if len(g) < rules.max_organizations), None)
            if place is None:
                current.append(rider)
            else:
                place.append(rider)
        proposals += [JointBranchProposal(township, tuple(g), rules) for g in groups]
        reason = LeftoverReason.NO_FREE_PLACE if groups else LeftoverReason.TOWNSHIP_BELOW_MINIMUM
        leftovers += [Leftover(c, reason, total, rules) for c in current]
    return ProposalPlan(tuple(proposals), tuple(leftovers))


# --------------------------------------------------------------------------------------------
# The optimiser
# --------------------------------------------------------------------------------------------


def _distances(members: Sequence[Candidate]) -> list[list[float | None]]:
    """The haversine matrix (None where a position is unknown), each pair computed once."""
    n = len(members)
    radians = [
        (math.radians(m.latitude), math.radians(m.longitude))
        if m.latitude is not None and m.longitude is not None
        else None
        for m in members
    ]
    cosines = [math.cos(r[0]) if r else 0.0 for r in radians]
    matrix: list[list[float | None]] = [[None] * n for _ in range(n)]
    for i in range(n):
        a = radians[i]
        if a is None:
            continue
        row = matrix[i]
        for j in range(i + 1, n):
            b = radians[j]
            if b is None:
                continue
            h = (
                math.sin((b[0] - a[0]) / 2) ** 2
                + cosines[i] * cosines[j] * math.sin((b[1] - a[1]) / 2) ** 2
            )
            row[j] = matrix[j][i] = 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
    return matrix


class _Township:
    """One township's candidates by index, with their pairwise distances computed once."""

    def __init__(self, members: list[Candidate], rules: ProposalRules) -> None:
        self.members = members
        self.rules = rules
        self.weight = [c.full_members for c in members]
        self.distance = _distances(members)
        self.cores = [i for i, c in enumerate(members) if not c.is_rider]
        self.riders = [i for i, c in enumerate(members) if c.is_rider]
        self.section = [c.section for c in members]
        self.code = [c.industry_code for c in members]
        self.located = [c.located for c in members]

    def cost(self, group: Sequence[int]) -> float:
        sections = {s for i in group if (s := self.section[i])}
        codes = {code for i in group if (code := self.code[i])}
        diameter = 0.0
        unlocated = 0
        for position, i in enumerate(group):
            row = self.distance[i]
            if not self.located[i]:
                unlocated += 1
                continue
            for j in group[position + 1 :]:
                d = row[j]
                if d is not None and d > diameter:
                    diameter = d
        return (
            SECTION_MISMATCH_KM * max(0, len(sections) - 1)
            + CODE_MISMATCH_KM * max(0, len(codes) - len(sections))
            + diameter
            + UNKNOWN_LOCATION_KM * unlocated
        )

    def full(self, group: Sequence[int]) -> int:
        return sum(self.weight[i] for i in group)

    def pair_cost(self, i: int, j: int) -> float:
        """`cost([i, j])`, without building a group (it is asked for every pair)."""
        cost = self.distance[i][j] or 0.0
        si, sj = self.section[i], self.section[j]
        if si and sj and si != sj:
            cost += SECTION_MISMATCH_KM
        elif self.code[i] and self.code[j] and self.code[i] != self.code[j]:
            cost += CODE_MISMATCH_KM
        return cost + UNKNOWN_LOCATION_KM * ((not self.located[i]) + (not self.located[j]))

    def nearest(self, count: int) -> dict[int, list[int]]:
        """Each core's `count` cheapest partner cores (by the cost of the pair)."""
        return {
            i: sorted((j for j in self.cores if j != i), key=lambda j: (self.pair_cost(i, j), j))[
                :count
            ]
            for i in self.cores
        }

    def grow(
        self, seed_order: list[int], nearest: dict[int, list[int]]
    ) -> tuple[list[list[int]], list[int]]:
        """Seed-and-grow: groups that just reach the minimum, and the cores left over.

        A group grows from its members' nearest free candidates (all free ones when none is)."""
        need = self.rules.min_full_members
        free = set(self.cores)
        free_full = sum(self.weight[i] for i in free)
        groups: list[list[int]] = []
        for seed in seed_order:
            if seed not in free or free_full < need:
                continue
            free.discard(seed)
            group = [seed]
            base = self.cost(group)
            while self.full(group) < need and len(group) < self.rules.max_organizations:
                missing = need - self.full(group)
                pool = {j for i in group for j in nearest[i] if j in free} or free

                def added(j: int, group: list[int] = group, base: float = base) -> float:
                    return self.cost([*group, j]) - base

                # least added cost; on a tie the one that reaches the minimum without surplus
                best = min(pool, key=lambda j: (added(j), abs(self.weight[j] - missing), j))
                free.discard(best)
                group.append(best)
                base = self.cost(group)
            if self.full(group) >= need:
                groups.append(group)
                free_full -= self.full(group)
            else:
                free.update(group)
        return groups, sorted(free)

    def place(self, groups: list[list[int]], items: list[int]) -> list[int]:
        """Put items in groups with a free place, cheapest addition first; returns the rest."""
        options = sorted(
            (self.cost([*g, i]) - self.cost(g), i, k)
            for i in items
            for k, g in enumerate(groups)
            if len(g) < self.rules.max_organizations
        )
        placed: set[int] = set()
        for _, i, k in options:
            if i not in placed and len(groups[k]) < self.rules.max_organizations:
                groups[k].append(i)
                placed.add(i)
        return [i for i in items if i not in placed]

    def improve(self, groups: list[list[int]], nearest: dict[int, list[int]]) -> None:
        """Move or swap cores between neighbouring groups while the total cost falls.

        A pair of groups is looked at again only when one of them changed since."""
        costs = [self.cost(g) for g in groups]
        changed = set(range(len(groups)))
        for _ in range(MAX_PASSES):
            if not changed:
                return
            owner = {i: k for k, g in enumerate(groups) for i in g}
            now_changed: set[int] = set()
            for a in range(len(groups)):
                near = {j for i in groups[a] for j in nearest.get(i, [])}
                partners = {owner[j] for j in near if j in owner} - {a}
                for b in sorted(partners):
                    if (a in changed or b in changed) and self._move_or_swap(groups, costs, a, b):
                        now_changed |= {a, b}
                        owner.update({i: a for i in groups[a]} | {i: b for i in groups[b]})
            changed = now_changed

    def _move_or_swap(self, groups: list[list[int]], costs: list[float], a: int, b: int) -> bool:
        """Apply the best improving move (a member of `a` to `b`) or swap, if there is one."""
        need, most = self.rules.min_full_members, self.rules.max_organizations
        ga, gb = groups[a], groups[b]
        before = costs[a] + costs[b]
        full_a, full_b = self.full(ga), self.full(gb)
        best: tuple[float, list[int], list[int], float, float] | None = None
        for x in ga:
            rest_a = [i for i in ga if i != x]
            options: list[tuple[list[int], list[int]]] = []
            if full_a - self.weight[x] >= need and len(gb) < most:
                options.append((rest_a, [*gb, x]))
            for y in gb:
                if (
                    full_a - self.weight[x] + self.weight[y] >= need
                    and full_b - self.weight[y] + self.weight[x] >= need
                ):
                    options.append(([*rest_a, y], [*(i for i in gb if i != y), x]))
            for new_a, new_b in options:
                cost_a, cost_b = self.cost(new_a), self.cost(new_b)
                delta = cost_a + cost_b - before
                if delta < -_EPSILON and (best is None or delta < best[0]):
                    best = (delta, new_a, new_b, cost_a, cost_b)
        if best is None:
            return False
        _, groups[a], groups[b], costs[a], costs[b] = best
        return True

    def seed_orders(self, nearest: dict[int, list[int]]) -> list[list[int]]:
        """Most isolated core first, and best connected first (by the cost of completing it)."""
        need = self.rules.min_full_members

        def completion(i: int) -> float:
            group, full = [i], self.weight[i]
            for j in nearest[i]:
                if full >= need:
                    break
                group.append(j)
                full += self.weight[j]
            return self.cost(group)

        score = {i: completion(i) for i in self.cores}
        isolated = sorted(self.cores, key=lambda i: (-score[i], i))
        connected = sorted(self.cores, key=lambda i: (score[i], i))
        return [isolated, connected]

    def plan(self) -> tuple[list[list[int]], list[int], list[int]]:
        """Groups, cores left over, riders left over."""
        nearest = self.nearest(GROW_POOL)
        best: tuple[float, int, list[list[int]], list[int], list[int]] | None = None
        for order in self.seed_orders(nearest):
            groups, left = self.grow(order, nearest)
            left = self.place(groups, left)
            self.improve(groups, {i: near[:NEIGHBOURS] for i, near in nearest.items()})
            riders = self.place(groups, list(self.riders))
            uncovered = len(left) + len(riders)
            cost = sum(self.cost(g) for g in groups)
            if best is None or (uncovered, cost) < (best[1], best[0]):
                best = (cost, uncovered, groups, left, riders)
        if best is None:  # riders only
            return [], [], list(self.riders)
        return best[2], best[3], best[4]


def propose_joint_branches(candidates: Iterable[Candidate], rules: ProposalRules) -> ProposalPlan:
    """Group candidates into proposed joint branches (see the module docstring)."""
    proposals: list[JointBranchProposal] = []
    leftovers: list[Leftover] = []
    for township_code, members in _by_township(
        c for c in candidates if is_candidate(c.full_members, c.probationary_members, rules)
    ):
        township = _Township(members, rules)
        groups, left_cores, left_riders = township.plan()
        for group in groups:
            ordered = sorted((members[i] for i in group), key=lambda c: c.organization_id)
            proposals.append(JointBranchProposal(township_code, tuple(ordered), rules))
        total = sum(township.weight)
        reason = LeftoverReason.NO_FREE_PLACE if groups else LeftoverReason.TOWNSHIP_BELOW_MINIMUM
        leftovers += [
            Leftover(members[i], reason, total, rules) for i in sorted(left_cores + left_riders)
        ]
    return ProposalPlan(tuple(proposals), tuple(leftovers))


def fill_existing_branches(
    plan: ProposalPlan, branches: Iterable[ExistingJointBranch], rules: ProposalRules
) -> ProposalPlan:
    """The plan's leftovers placed in existing joint branches of their township that have room
    (fewer than `max_organizations` organisations): cores before riders, each where it adds
    least cost. An existing branch already has its full members, so any candidate may join."""
    by_township: defaultdict[str, list[ExistingJointBranch]] = defaultdict(list)
    for branch in sorted(branches, key=lambda b: b.branch_id):
        if len(branch.members) < rules.max_organizations:
            by_township[branch.township_code].append(branch)
    added: defaultdict[str, list[Candidate]] = defaultdict(list)
    rest: list[Leftover] = []
    ordered = sorted(
        plan.leftovers, key=lambda left: (left.candidate.is_rider, left.candidate.organization_id)
    )
    for left in ordered:
        candidate = left.candidate
        room = [
            b
            for b in by_township.get(candidate.township_code, ())
            if len(b.members) + len(added[b.branch_id]) < rules.max_organizations
        ]
        if not room:
            rest.append(left)
            continue

        def extra_cost(branch: ExistingJointBranch, c: Candidate = candidate) -> float:
            now = [*branch.members, *added[branch.branch_id]]
            return group_cost([*now, c]) - group_cost(now)

        best = min(room, key=lambda b: (extra_cost(b), b.branch_id))
        added[best.branch_id].append(candidate)
    fills = tuple(
        BranchFill(b, tuple(sorted(added[b.branch_id], key=lambda c: c.organization_id)), rules)
        for township in sorted(by_township)
        for b in by_township[township]
        if added[b.branch_id]
    )
    leftovers = tuple(sorted(rest, key=lambda left: left.candidate.organization_id))
    return ProposalPlan(plan.proposals, leftovers, plan.fills + fills)


def industry_wide_branches(plan: ProposalPlan, rules: ProposalRules) -> ProposalPlan:
    """When the rules allow it, the plan's leftovers grouped across their county by GB/T 4754
    section (行业联合党支部) with the same algorithm, a county and section taking the place of a
    township; those with no known industry, or still left over, stay leftovers."""
    if not rules.industry_wide:
        return plan
    keyed = [
        dataclasses.replace(
            left.candidate, township_code=f"{left.candidate.township_code[:6]}:{section}"
        )
        for left in plan.leftovers
        if (section := left.candidate.section)
    ]
    across = propose_joint_branches(keyed, rules)
    placed = {m.organization_id for p in across.proposals for m in p.members}
    originals = {left.candidate.organization_id: left.candidate for left in plan.leftovers}
    proposals = tuple(
        JointBranchProposal(
            p.township_code.split(":")[0],
            tuple(originals[m.organization_id] for m in p.members),
            rules,
            industry_section=p.township_code.split(":")[1],
        )
        for p in across.proposals
    )
    leftovers = tuple(
        left for left in plan.leftovers if left.candidate.organization_id not in placed
    )
    return ProposalPlan(plan.proposals + proposals, leftovers, plan.fills)


@dataclass(frozen=True)
class PlanQuality:
    """Figures to compare plans: coverage and compactness."""

    covered: int
    groups: int
    mean_diameter_km: float | None  # over groups with two or more located members
    mean_sections: float | None  # distinct industry sections per group
    cost: float


def quality(plan: ProposalPlan) -> PlanQuality:
    diameters = [d for p in plan.proposals if (d := p.diameter_km) is not None]
    sections = [max(1, len(p.sections)) for p in plan.proposals]
    return PlanQuality(
        covered=plan.covered,
        groups=len(plan.proposals),
        mean_diameter_km=sum(diameters) / len(diameters) if diameters else None,
        mean_sections=sum(sections) / len(sections) if sections else None,
        cost=plan.cost,
    )
