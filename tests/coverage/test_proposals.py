"""Joint-branch proposals in plain Python: the constraints always hold, the optimiser beats the
naive first-fit on generated data, and every leftover says why."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from services.coverage.domain.proposals import (
    Candidate,
    LeftoverReason,
    ProposalPlan,
    ProposalRules,
    coverage_upper_bound,
    first_fit,
    haversine_km,
    propose_joint_branches,
    quality,
)
from tests.bench.joint_branch_proposals import generate_region

RULES = ProposalRules()


def candidate(n: int, full: int, **kw: Any) -> Candidate:
    values: dict[str, Any] = {"township_code": "140212101", "industry_code": "F5127", **kw}
    return Candidate(organization_id=f"o{n:03d}", full_members=full, **values)


def assert_valid(plan: ProposalPlan, candidates: list[Candidate], rules: ProposalRules) -> None:
    placed = Counter(m.organization_id for p in plan.proposals for m in p.members)
    left = Counter(left.candidate.organization_id for left in plan.leftovers)
    assert max(placed.values(), default=1) == 1, "an organisation in two groups"
    assert not set(placed) & set(left)
    assert set(placed) | set(left) == {c.organization_id for c in candidates}
    for p in plan.proposals:
        assert {m.township_code for m in p.members} == {p.township_code}
        assert 2 <= len(p.members) <= rules.max_organizations
        assert p.full_members >= rules.min_full_members
        assert all(m.full_members < rules.min_full_members for m in p.members)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("rules", [ProposalRules(), ProposalRules(4, 6), ProposalRules(3, 3)])
def test_constraints_always_hold(seed: int, rules: ProposalRules) -> None:
    candidates = [
        c for c in generate_region(seed, 12, 12_000) if c.full_members < rules.min_full_members
    ]
    plan = propose_joint_branches(candidates, rules)
    assert_valid(plan, candidates, rules)
    assert plan.covered <= coverage_upper_bound(candidates, rules)


@pytest.mark.parametrize("seed", [5, 6])
def test_the_optimiser_beats_first_fit(seed: int) -> None:
    candidates = generate_region(seed, 20, 15_000)
    ours, naive = propose_joint_branches(candidates, RULES), first_fit(candidates, RULES)
    assert_valid(naive, candidates, RULES)
    assert ours.covered >= naive.covered
    assert ours.better_than(naive)
    q, n = quality(ours), quality(naive)
    assert q.mean_diameter_km is not None
    assert n.mean_diameter_km is not None
    assert q.mean_diameter_km < n.mean_diameter_km
    assert q.mean_sections is not None
    assert n.mean_sections is not None
    assert q.mean_sections < n.mean_sections
    # with these data (plenty of places for riders) every candidate fits: the bound is reached
    assert ours.covered == coverage_upper_bound(candidates, RULES)


def test_same_industry_and_near_neighbours_go_together() -> None:
    # two clusters 20 km apart, each of three one-member organisations of one trade
    west = [
        candidate(i, 1, industry_code="H6210", latitude=40.0, longitude=113.0 + i * 0.001)
        for i in range(3)
    ]
    east = [
        candidate(10 + i, 1, industry_code="I6513", latitude=40.0, longitude=113.25 + i * 0.001)
        for i in range(3)
    ]
    mixed = [west[0], east[0], west[1], east[1], west[2], east[2]]
    plan = propose_joint_branches(mixed, RULES)
    groups = sorted(sorted(m.organization_id for m in p.members) for p in plan.proposals)
    assert groups == [["o000", "o001", "o002"], ["o010", "o011", "o012"]]
    proposal = plan.proposals[0]
    assert proposal.diameter_km is not None
    assert proposal.diameter_km < 0.5
    assert "同一行业" in proposal.explanation
    assert "正式党员合计3名" in proposal.explanation
    naive = first_fit(mixed, RULES)  # id order: the west three first, by chance of the ids
    assert naive.covered == plan.covered


def test_townships_are_never_mixed_and_short_townships_are_left_over() -> None:
    alone = [candidate(1, 2, township_code="140212102"), candidate(2, 1, township_code="140212101")]
    plan = propose_joint_branches(alone, RULES)
    assert plan.proposals == ()
    assert {left.reason for left in plan.leftovers} == {LeftoverReason.TOWNSHIP_BELOW_MINIMUM}
    assert "不足3名" in plan.leftovers[0].explanation
    assert coverage_upper_bound(alone, RULES) == 0


def test_riders_fill_free_places_after_the_cores() -> None:
    cores = [candidate(i, 1) for i in range(3)]
    riders = [candidate(10 + i, 0, probationary_members=1) for i in range(3)]
    plan = propose_joint_branches(cores + riders, RULES)
    (proposal,) = plan.proposals
    assert len(proposal.members) == 5
    assert proposal.full_members == 3
    (left,) = plan.leftovers
    assert left.candidate.is_rider
    assert left.reason is LeftoverReason.NO_FREE_PLACE
    assert coverage_upper_bound(cores + riders, RULES) == 5


def test_leftover_cores_join_the_group_they_fit_best() -> None:
    # 4 one-member organisations: one group of 3 reaches the minimum, the fourth must join it
    cores = [candidate(i, 1, latitude=39.0, longitude=112.0 + i * 0.01) for i in range(4)]
    plan = propose_joint_branches(cores, RULES)
    assert plan.covered == 4
    assert not plan.leftovers


def test_organisations_with_enough_members_or_none_are_not_candidates() -> None:
    plan = propose_joint_branches([candidate(1, 3), candidate(2, 0)], RULES)
    assert plan.proposals == ()
    assert plan.leftovers == ()


def test_first_fit_is_naive_about_the_tail() -> None:
    # 2 + 2 fill a group; the last 1 cannot complete a group of its own and is left over
    cores = [candidate(1, 2), candidate(2, 2), candidate(3, 1)]
    assert first_fit(cores, RULES).covered == 2
    assert propose_joint_branches(cores, RULES).covered == 3


def test_haversine() -> None:
    a = candidate(1, 1, latitude=39.9042, longitude=116.4074)  # Beijing
    b = candidate(2, 1, latitude=31.2304, longitude=121.4737)  # Shanghai
    assert haversine_km(a, b) == pytest.approx(1067, rel=0.01)
    assert haversine_km(a, candidate(3, 1)) is None


def test_unknown_coordinates_and_industries_are_explained() -> None:
    cores = [candidate(i, 1, industry_code=None) for i in range(3)]
    (proposal,) = propose_joint_branches(cores, RULES).proposals
    assert "行业代码未知" in proposal.explanation
    assert "位置未知" in proposal.explanation


def test_rules_are_checked() -> None:
    with pytest.raises(ValueError, match="min_full_members"):
        ProposalRules(6, 5)


def test_random_small_cases_against_the_bound() -> None:
    rng = random.Random(7)
    for trial in range(200):
        cands = [
            candidate(
                i,
                rng.choice((0, 1, 1, 2)),
                probationary_members=1,
                township_code=f"14021210{rng.randint(1, 2)}",
                industry_code=rng.choice(("F5127", "H6210", None)),
                latitude=rng.uniform(39, 39.1) if rng.random() < 0.8 else None,
                longitude=rng.uniform(112, 112.1),
            )
            for i in range(rng.randint(0, 14))
        ]
        plan = propose_joint_branches(cands, RULES)
        assert_valid(plan, cands, RULES)
        bound = coverage_upper_bound(cands, RULES)
        assert plan.covered <= bound, trial
        assert plan.covered >= first_fit(cands, RULES).covered, trial
