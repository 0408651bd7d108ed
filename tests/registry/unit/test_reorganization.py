"""`check_reorganization` as plain domain code: its refusals in order, and the plan it returns."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from libs.common.refusals import RuleBroken
from services.registry.domain.branches import (
    Branch,
    Committee,
    Covered,
    Reorganization,
    Upgrade,
    check_reorganization,
)
from services.registry.domain.organizations import Organization, OrganizationNotFound, Rules
from tests.registry.unit.fakes import an_organization

ON = date(2026, 11, 30)
COMMITTEE = Committee("c", "two_new", "两新工委", "140212", date(2026, 1, 1))
JOINT = Branch("j", "joint", "联合党支部", "c", "140212101", date(2026, 1, 1), ["a", "b", "c"])
LEDGER = {
    i: an_organization(n, id=i, full_members=full)
    for n, (i, full) in enumerate([("a", 3), ("b", 1), ("c", 1), ("d", 2)])
}


def plan(
    branch: Branch = JOINT, found: dict[str, Organization] = LEDGER, **change: Any
) -> Reorganization:
    return check_reorganization(
        branch,
        COMMITTEE,
        found,
        {},
        Rules(),
        add=change.get("add", []),
        remove=change.get("remove", []),
        upgrade=change.get("upgrade", []),
        scope="140212",
        on=ON,
    )


def refused(**kwargs: Any) -> tuple[str, list[str]]:
    with pytest.raises(RuleBroken) as caught:
        plan(**kwargs)
    return caught.value.rule, caught.value.organization_ids


def test_the_plan_is_the_branch_one_version_on_with_who_joins_and_leaves() -> None:
    done = plan(add=[Covered("d")], remove=["b"], upgrade=[Upgrade("a", "a党支部")])
    assert (done.after.organization_ids, done.after.version) == (["c", "d"], 2)
    assert (done.added_ids, done.leaving) == (["d"], ["b", "a"])
    assert [(c.id, name) for c, name in done.upgrades] == [("a", "a党支部")]
    assert JOINT.version == 1  # the branch itself is not touched


def test_refusals_come_in_order_branch_then_leavers_then_organisations() -> None:
    dissolved = replace(JOINT, status="dissolved")
    assert refused(branch=dissolved, remove=["x"])[0] == "branch_active"
    assert refused(remove=["x"], add=[Covered("nowhere")]) == ("covered_by_this_branch", ["x"])
    assert refused(remove=["b"], upgrade=[Upgrade("b", "b")]) == ("organization_listed_once", ["b"])
    with pytest.raises(OrganizationNotFound):
        plan(add=[Covered("nowhere")])
    assert refused(upgrade=[Upgrade("b", "b党支部")]) == ("standalone_min_full_members", ["b"])


def test_an_organisation_outside_the_scope_does_not_exist() -> None:
    there = {**LEDGER, "d": replace(LEDGER["d"], region_code="140213")}
    with pytest.raises(OrganizationNotFound) as caught:
        plan(found=there, add=[Covered("d")])
    assert caught.value.organization_id == "d"


def test_a_removal_leaving_too_few_full_members_needs_rectification_by_a_deadline() -> None:
    done = plan(remove=["a"])  # b and c: 2 full members together
    assert done.after.organization_ids == ["b", "c"]
    assert done.after.status == "needs_rectification"
    assert "full members" in (done.after.rectification_reason or "")
    assert done.after.rectify_by == date(2027, 2, 28)  # 3 calendar months on, month's end
    lone = plan(remove=["a", "b"])
    assert lone.after.status == "needs_rectification"
    assert "two or more" in (lone.after.rectification_reason or "")


def test_the_deadline_is_kept_until_the_branch_meets_the_rules_again() -> None:
    flagged = replace(
        JOINT,
        organization_ids=["b", "c"],
        status="needs_rectification",
        rectification_reason="too few",
        rectify_by=date(2027, 1, 15),
    )
    still = plan(branch=flagged, remove=["c"], add=[Covered("d")])  # b + d: 3 full
    assert (still.after.status, still.after.rectify_by) == ("active", None)
    worse = plan(branch=flagged, remove=["c"])
    assert (worse.after.status, worse.after.rectify_by) == (
        "needs_rectification",
        date(2027, 1, 15),
    )


def test_choices_that_break_the_rules_are_still_refused() -> None:
    ready = {**LEDGER, "d": replace(LEDGER["d"], full_members=4)}
    assert refused(found=ready, add=[Covered("d")]) == ("joint_only_below_standalone", ["d"])


def test_size_advice_follows_the_settings() -> None:
    from services.registry.domain.branches import size_advice

    found = {"a": replace(LEDGER["a"], full_members=30, probationary_members=19)}
    branch = replace(JOINT, organization_ids=["a"])
    assert size_advice(branch, found, Rules()) == []
    found["a"] = replace(found["a"], probationary_members=20)  # 50
    assert [a.rule for a in size_advice(branch, found, Rules())] == ["general_branch_size"]
    assert [a.rule for a in size_advice(branch, found, Rules(committee_min_members=50))] == [
        "committee_size"
    ]
