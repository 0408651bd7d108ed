"""Joint-branch proposals beyond one township's new groups: leftovers into existing joint branches
with room, and industry-wide joint branches across a county when the setting allows."""

from __future__ import annotations

from services.coverage.domain.proposals import (
    Candidate,
    ExistingJointBranch,
    LeftoverReason,
    ProposalRules,
    fill_existing_branches,
    industry_wide_branches,
    propose_joint_branches,
)


def candidate(n: int, township: str = "140212101", full: int = 1, **kw: object) -> Candidate:
    return Candidate(f"org-{n}", township, full, industry_code=kw.pop("industry", "I6513"), **kw)  # type: ignore[arg-type]


def test_leftovers_fill_existing_joint_branches_with_room_cores_first() -> None:
    rules = ProposalRules()
    # one core and one rider alone in their township: no new group can be formed
    plan = propose_joint_branches(
        [candidate(1), candidate(2, full=0, probationary_members=1)], rules
    )
    assert plan.covered == 0
    nearly_full = ExistingJointBranch("b-1", tuple(candidate(10 + n, full=1) for n in range(4)))
    elsewhere = ExistingJointBranch("b-2", (candidate(20, township="140212102"),))
    filled = fill_existing_branches(plan, [nearly_full, elsewhere], rules)
    (fill,) = filled.fills
    assert fill.branch.branch_id == "b-1"
    assert [c.organization_id for c in fill.added] == ["org-1"]  # the core takes the last place
    assert [left.candidate.organization_id for left in filled.leftovers] == ["org-2"]
    assert filled.covered == 1
    assert "纳入1个后共5个" in fill.explanation


def test_industry_wide_joint_branches_only_when_allowed() -> None:
    spread = [
        candidate(1, "140212101"),
        candidate(2, "140212102"),
        candidate(3, "140212103"),
        candidate(4, "140212104", industry="C1311"),  # another section: stays a leftover
    ]
    plan = propose_joint_branches(spread, ProposalRules())
    assert plan.covered == 0
    assert {left.reason for left in plan.leftovers} == {LeftoverReason.TOWNSHIP_BELOW_MINIMUM}
    assert industry_wide_branches(plan, ProposalRules()) == plan
    allowed = industry_wide_branches(plan, ProposalRules(industry_wide=True))
    (proposal,) = allowed.proposals
    assert proposal.township_code == "140212"
    assert proposal.industry_section == "I"
    assert [m.township_code for m in proposal.members] == ["140212101", "140212102", "140212103"]
    assert "行业联合党支部" in proposal.explanation
    assert [left.candidate.organization_id for left in allowed.leftovers] == ["org-4"]
