"""Transfers (组织关系转接) as plain domain rules: to the Party organisation covering the
organisation, and a member already registered there matched rather than found again."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from libs.common.refusals import RuleBroken
from services.registry.domain.branches import Branch
from services.registry.domain.members import Member, registered_here

JOINT = Branch("b-1", "joint", "古店镇联合党支部", "c-1", "140212101", date(2026, 1, 1), ["org-1"])
DECLARED = Member(
    id="m-1",
    organization_id="org-1",
    region_code="140212101",
    id_hash="h",
    name="张三",
    id_masked="1402**********1234",
    phone_masked=None,
    membership="full",
    registered_with="某村党支部",
    status="declared",
    discovered_at=datetime(2026, 1, 1),
    declared_on=date(2026, 2, 1),
)


def refusal(branch: Branch | None, member: Member = DECLARED) -> str:
    with pytest.raises(RuleBroken) as caught:
        member.transferred_to(branch, date(2026, 3, 1))
    return caught.value.rule


def test_a_transfer_goes_to_the_branch_covering_the_organisation() -> None:
    moved = DECLARED.transferred_to(JOINT, date(2026, 3, 1))
    assert (moved.status, moved.branch_id, moved.registered_with, moved.version) == (
        "transferred",
        "b-1",
        "古店镇联合党支部",
        2,
    )
    assert refusal(None) == "transfer_to_party_organization"
    assert refusal(replace(JOINT, organization_ids=["org-2"])) == "transfer_to_party_organization"
    assert refusal(replace(JOINT, kind="temporary")) == "transfer_to_party_organization"
    assert refusal(replace(JOINT, status="dissolved")) == "transfer_to_party_organization"
    assert refusal(JOINT, replace(DECLARED, status="discovered")) == "member_status_order"


def test_registered_with_the_own_branch_is_matched_by_normalised_name() -> None:
    assert registered_here("古店镇 联合党支部", JOINT)
    assert not registered_here("某村党支部", JOINT)
    assert not registered_here(None, JOINT)
    assert not registered_here("古店镇联合党支部", replace(JOINT, kind="temporary"))
