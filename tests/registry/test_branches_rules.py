"""Branch formation rules as plain domain code: each refusal names its rule and organisations."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from libs.common.refusals import RuleBroken
from services.registry.domain.branches import (
    Branch,
    Candidate,
    Committee,
    common_region,
    plan_branch,
    plan_reorganization,
)
from services.registry.domain.organizations import Organization, Rules

NOW = datetime(2026, 11, 1, tzinfo=UTC)
COMMITTEE = Committee("c", "two_new", "两新工委", "140212", date(2026, 1, 1))
RULES = Rules()


def org(i: str, full: int, region: str = "140212101", industry: str | None = "I6513") -> Candidate:
    return Candidate(
        Organization(
            id=i,
            credit_code=f"{i:0>18}",
            name=i,
            kind="enterprise",
            region_code=region,
            version=1,
            created_at=NOW,
            updated_at=NOW,
            full_members=full,
            industry_code=industry,
        )
    )


def refusal(kind: str, candidates: list[Candidate], **kwargs: object) -> RuleBroken:
    covering = kwargs.pop("covering", {})
    rules = kwargs.pop("rules", RULES)
    with pytest.raises(RuleBroken) as caught:
        plan_branch(
            kind,  # type: ignore[arg-type]
            candidates,
            COMMITTEE,
            covering,  # type: ignore[arg-type]
            rules,  # type: ignore[arg-type]
            formed_on=date(2026, 11, 1),
            today=date(2026, 11, 1),
            ends_on=kwargs.get("ends_on"),  # type: ignore[arg-type]
        )
    return caught.value


def test_standalone_threshold_is_the_configured_one() -> None:
    assert refusal("standalone", [org("a", 2)]).rule == "standalone_min_full_members"
    strict = Rules(standalone_min_full_members=5)
    broken = refusal("standalone", [org("a", 4)], rules=strict)
    assert (broken.rule, broken.organization_ids) == ("standalone_min_full_members", ["a"])
    assert (
        plan_branch(
            "standalone",
            [org("a", 3)],
            COMMITTEE,
            {},
            RULES,
            formed_on=date(2026, 1, 1),
            ends_on=None,
            today=date(2026, 1, 1),
        )
        == []
    )


def test_joint_limits_follow_the_settings() -> None:
    three = [org("a", 1), org("b", 1), org("c", 1)]
    assert refusal("joint", three, rules=Rules(joint_max_organizations=2)).rule == (
        "joint_max_organizations"
    )
    advice = plan_branch(
        "joint",
        three,
        COMMITTEE,
        {},
        RULES,
        formed_on=date(2026, 1, 1),
        ends_on=None,
        today=date(2026, 1, 1),
    )
    assert advice == []
    mixed = [org("a", 1), org("b", 1, region="140212102", industry="F51")]
    mixed.append(org("c", 1, industry=None))
    rules = [
        a.rule
        for a in plan_branch(
            "joint",
            mixed,
            COMMITTEE,
            {},
            RULES,
            formed_on=date(2026, 1, 1),
            ends_on=None,
            today=date(2026, 1, 1),
        )
    ]
    assert rules == ["same_township", "same_industry"]


def test_coverage_rules_come_first_and_name_the_organisations() -> None:
    broken = refusal("joint", [org("a", 1), org("b", 2)], covering={"b": "other"})
    assert (broken.rule, broken.organization_ids) == ("one_active_branch_per_organization", ["b"])
    outside = refusal("standalone", [org("a", 3, region="140211001")])
    assert (outside.rule, outside.organization_ids) == ("within_parent_committee", ["a"])
    twice = refusal("joint", [org("a", 1), org("a", 1)])
    assert twice.rule == "organization_listed_once"
    assert refusal("temporary", []).rule == "organizations_required"


def test_reorganizing_checks_only_newcomers_for_standing_alone() -> None:
    grown = org("a", 3)
    branch = Branch("j", "joint", "联合党支部", "c", "140212101", date(2026, 1, 1), ["a", "b"])
    advice, shortfall = plan_reorganization(
        branch, [grown, org("b", 1)], [org("c", 0)], COMMITTEE, {}, RULES
    )
    assert ([a.rule for a in advice], shortfall) == (["could_stand_alone"], None)
    with pytest.raises(RuleBroken) as caught:
        plan_reorganization(branch, [org("b", 1)], [org("d", 3)], COMMITTEE, {}, RULES)
    assert (caught.value.rule, caught.value.organization_ids) == (
        "joint_only_below_standalone",
        ["d"],
    )
    with pytest.raises(RuleBroken) as gone:
        plan_reorganization(replace(branch, status="dissolved"), [], [], COMMITTEE, {}, RULES)
    assert gone.value.rule == "branch_active"


def test_common_region_is_the_deepest_shared_ancestor() -> None:
    assert common_region(["140212101001", "140212101002"]) == "140212101"
    assert common_region(["140212101", "140212102"]) == "140212"
    assert common_region(["140212"]) == "140212"
