"""The roll-up, rate and target rules in plain Python: no store, no broker."""

from __future__ import annotations

from datetime import date

import pytest

from services.coverage.domain.facts import CoverageFacts
from services.coverage.domain.links import BranchLink, covering_branch
from services.coverage.domain.rates import BreakdownRow, Counts, announced, breakdown, rate
from services.coverage.domain.rollups import COUNTERS, RollupDelta, industry_section, rollup_keys
from services.coverage.domain.targets import Target, crossing, standing


def org(**kw: object) -> CoverageFacts:
    base: dict[str, object] = {
        "organization_id": "o1",
        "region_code": "140212101001",
        "kind": "enterprise",
        "industry_code": "I6513",
        "staff_count": 12,
    }
    base.update(kw)
    return CoverageFacts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("covered", "in_scope", "expected"),
    [(85, 88, 0.9659), (0, 0, None), (1, 3, 0.3333), (2, 3, 0.6667), (1, 8, 0.125), (5, 5, 1.0)],
)
def test_rate_is_rounded_half_up_to_four_places(
    covered: int, in_scope: int, expected: float | None
) -> None:
    assert rate(covered, in_scope) == expected


@pytest.mark.parametrize(
    ("code", "section"),
    [
        ("I6513", "I"),
        ("6513", "I"),
        ("C1311", "C"),
        ("0111", "A"),
        ("97", "T"),
        (None, "unknown"),
        ("", "unknown"),
        ("99", "unknown"),
    ],
)
def test_industry_section(code: str | None, section: str) -> None:
    assert industry_section(code) == section


def test_an_organisation_counts_in_every_ancestor_and_each_park_within_them() -> None:
    keys = rollup_keys(org(area_ids=("park-1",)))
    regions = [(k.region_code, k.area_id) for k in keys]
    assert regions == [
        ("14", ""),
        ("14", "park-1"),
        ("1402", ""),
        ("1402", "park-1"),
        ("140212", ""),
        ("140212", "park-1"),
        ("140212101", ""),
        ("140212101", "park-1"),
        ("140212101001", ""),
        ("140212101001", "park-1"),
    ]
    assert {(k.kind, k.section, k.size_band) for k in keys} == {("enterprise", "I", "10-49")}


def test_delta_subtracts_the_old_contribution_and_adds_the_new() -> None:
    before = org(full_members=1)
    after = org(full_members=1, branch_id="b1", branch_kind="joint")
    delta = RollupDelta()
    delta.change(None, before)
    delta.change(before, after)
    county = next(v for k, v in delta.rows().items() if k.region_code == "140212" and not k.area_id)
    counts = dict(zip(COUNTERS, county, strict=True))
    assert counts["with_members_in_scope"] == 1
    assert counts["with_members_covered"] == 1
    assert counts["with_members_standalone"] == 0
    assert counts["all_managed_work"] == 1
    assert counts["three_haves_in_scope"] == 0


def test_a_change_that_moves_nothing_leaves_no_rows() -> None:
    delta = RollupDelta()
    delta.change(org(full_members=2), org(full_members=3, name="renamed"))
    assert delta.rows() == {}


def test_a_deregistered_organisation_counts_nowhere() -> None:
    delta = RollupDelta()
    delta.change(org(full_members=2, branch_id="b", branch_kind="standalone"), org(managed=False))
    assert all(all(v <= 0 for v in row) for row in delta.rows().values())
    assert any(any(v < 0 for v in row) for row in delta.rows().values())


def test_breakdown_by_each_dimension() -> None:
    def counts(in_scope: int, covered: int) -> Counts:
        values = dict.fromkeys(COUNTERS, 0)
        values["with_members_in_scope"] = in_scope
        values["with_members_covered"] = covered
        values["all_managed_in_scope"] = in_scope
        return Counts(tuple(values[c] for c in COUNTERS))

    rows = [
        BreakdownRow("enterprise", "I", "10-49", counts(3, 1)),
        BreakdownRow("enterprise", "C", "1-9", counts(1, 1)),
        BreakdownRow("social_organization", "I", "10-49", counts(4, 0)),
    ]
    result = breakdown(rows, "with_members", "all_managed")
    assert result["kind"]["enterprise"]["organization_coverage"] == {
        "covered": 2,
        "in_scope": 4,
        "rate": 0.5,
        "scope": "with_members",
    }
    assert result["section"]["I"]["organization_coverage"]["in_scope"] == 7
    assert result["size_band"]["1-9"]["organization_coverage"]["rate"] == 1.0
    assert result["kind"]["social_organization"]["work_coverage"]["rate"] == 0.0


def test_own_branch_before_joint_before_temporary() -> None:
    links = [BranchLink("t", "temporary"), BranchLink("j", "joint"), BranchLink("s", "standalone")]
    assert covering_branch(links) == BranchLink("s", "standalone")
    assert covering_branch([]) is None


def test_target_standing_and_crossings() -> None:
    target = Target("140212", "organization", "with_members", date(2026, 12, 31), 9500)
    assert standing(target, 0, 0) == "unknown"
    assert standing(target, 94, 99) == "below"  # 0.9495
    assert standing(target, 95, 100) == "reached"
    assert crossing("below", "reached") == "reached"
    assert crossing("unknown", "reached") == "reached"
    assert crossing("reached", "below") == "missed"
    assert crossing("unknown", "below") is None
    assert crossing("reached", "reached") is None


def test_rates_changed_is_announced_down_to_townships_only() -> None:
    assert [announced(code) for code in ("14", "1402", "140212", "140212101")] == [True] * 4
    assert not announced("140212101001")
