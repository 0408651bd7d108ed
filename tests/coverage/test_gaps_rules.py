"""The gap list's rules in plain Python: who is a gap, why, and what to do next."""

from __future__ import annotations

from typing import Any

import pytest

from services.coverage.domain.facts import CoverageFacts
from services.coverage.domain.gaps import (
    Metric,
    NextAction,
    Reason,
    gap_of,
    is_gap,
    next_actions,
    reason_label,
)

A = NextAction


def org(**overrides: Any) -> CoverageFacts:
    values: dict[str, Any] = {
        "organization_id": "o1",
        "region_code": "140212101001",
        "kind": "enterprise",
        "ledger_complete": True,
    }
    return CoverageFacts(**{**values, **overrides})


@pytest.mark.parametrize(
    ("facts", "reason", "actions"),
    [
        (
            org(full_members=4),
            Reason.ELIGIBLE_WITHOUT_BRANCH,
            (A.FORM_STANDALONE_BRANCH,),
        ),
        (
            org(full_members=2, probationary_members=3, instructor_count=1),
            Reason.TOO_FEW_FULL_MEMBERS,
            (A.JOIN_OR_FORM_JOINT_BRANCH, A.SET_UP_MASS_ORGANIZATION),
        ),
        (
            org(probationary_members=1, mass_organization_count=1, ledger_complete=False),
            Reason.PROBATIONARY_MEMBERS_ONLY,
            (A.JOIN_OR_FORM_JOINT_BRANCH, A.ASSIGN_INSTRUCTOR, A.COMPLETE_LEDGER),
        ),
        (
            org(three_haves=True),
            Reason.NO_MEMBERS,
            (A.ASSIGN_INSTRUCTOR, A.SET_UP_MASS_ORGANIZATION, A.DEVELOP_MEMBERS),
        ),
        (
            org(instructor_count=2, mass_organization_count=1),
            Reason.NO_MEMBERS,
            (A.DEVELOP_MEMBERS,),
        ),
    ],
)
def test_reason_and_next_actions(
    facts: CoverageFacts, reason: Reason, actions: tuple[NextAction, ...]
) -> None:
    gap = gap_of(facts, Metric.ORGANIZATION, 3)
    assert gap.reason is reason
    assert gap.reasons == (reason,)
    assert gap.next_actions == actions
    assert gap.next_action is actions[0]


def test_a_work_gap_also_lacks_instructor_and_mass_organisation() -> None:
    gap = gap_of(org(full_members=1), Metric.WORK, 3)
    assert gap.reasons == (Reason.TOO_FEW_FULL_MEMBERS, Reason.NO_PARTY_WORK)


def test_the_threshold_is_the_setting() -> None:
    facts = org(full_members=3)
    assert next_actions(facts, 3)[0] is A.FORM_STANDALONE_BRANCH
    assert next_actions(facts, 5)[0] is A.JOIN_OR_FORM_JOINT_BRANCH
    assert reason_label(Reason.TOO_FEW_FULL_MEMBERS, 5) == "正式党员不足5名，未纳入联合党支部"


def test_an_incomplete_ledger_is_always_the_last_action() -> None:
    assert next_actions(org(full_members=5, ledger_complete=False), 3) == (
        A.FORM_STANDALONE_BRANCH,
        A.COMPLETE_LEDGER,
    )


def test_who_is_a_gap() -> None:
    members = org(full_members=1)
    assert is_gap(members, Metric.ORGANIZATION, "with_members")
    assert not is_gap(org(), Metric.ORGANIZATION, "with_members")  # no members: out of scope
    assert is_gap(org(), Metric.ORGANIZATION, "all_managed")
    joint = org(full_members=1, branch_id="b1", branch_kind="joint")
    assert not is_gap(joint, Metric.ORGANIZATION, "with_members")
    instructed = org(full_members=1, instructor_count=1)
    assert is_gap(instructed, Metric.ORGANIZATION, "with_members")
    assert not is_gap(instructed, Metric.WORK, "all_managed")
    assert not is_gap(org(managed=False), Metric.WORK, "all_managed")
    assert Metric.WORK.default_scope == "all_managed"
    assert Metric.ORGANIZATION.default_scope == "with_members"
