"""The counting rules in plain Python: scopes by operating status and 三有, temporary branches,
and the day worker moving the projection on (in memory)."""

from __future__ import annotations

from datetime import date

import pytest

from libs.common.calendar import local_today
from services.coverage.domain.calendar import boundary_days
from services.coverage.domain.facts import SCOPES, CoverageFacts
from services.coverage.domain.rollups import COUNTERS, counts
from services.coverage.service.calendar import advance_day
from tests.coverage.unit.fakes import FakeUnitOfWork


def facts(**values: object) -> CoverageFacts:
    base: dict[str, object] = {
        "organization_id": "o",
        "region_code": "140212101001",
        "kind": "enterprise",
        "full_members": 1,
    }
    return CoverageFacts(**{**base, **values})  # type: ignore[arg-type]


@pytest.mark.parametrize("status", ["closed", "revoked"])
def test_closed_and_revoked_are_in_no_scope(status: str) -> None:
    gone = facts(operating_status=status, three_haves=True, branch_id="b", branch_kind="joint")
    assert not any(gone.in_scope(scope) for scope in SCOPES)
    assert not any(counts(gone))


def test_suspended_is_only_in_all_registered() -> None:
    suspended = facts(operating_status="suspended", three_haves=True)
    assert [s for s in SCOPES if suspended.in_scope(s)] == ["all_registered"]


def test_deregistered_is_in_no_scope() -> None:
    assert not any(facts(managed=False).in_scope(scope) for scope in SCOPES)


@pytest.mark.parametrize(("three_haves", "counted"), [(True, True), (False, False), (None, False)])
def test_three_haves_counts_only_when_known_true(three_haves: bool | None, counted: bool) -> None:
    assert facts(three_haves=three_haves).in_scope("three_haves") is counted


def test_a_temporary_branch_is_work_coverage_and_its_own_figure_only() -> None:
    temporary = facts(branch_id="t", branch_kind="temporary")
    assert not temporary.organization_covered
    assert not temporary.standalone
    assert temporary.temporary
    assert temporary.work_covered
    named = dict(zip(COUNTERS, counts(temporary), strict=True))
    assert named["with_members_covered"] == 0
    assert named["with_members_temporary"] == 1
    assert named["all_managed_work"] == 1


@pytest.mark.parametrize("kind", ["standalone", "joint"])
def test_own_and_joint_branches_are_organisation_coverage(kind: str) -> None:
    covered = facts(branch_id="b", branch_kind=kind)
    assert covered.organization_covered
    assert not covered.temporary
    assert covered.standalone is (kind == "standalone")


def test_boundary_days_hold_every_flip_either_way() -> None:
    was, now = date(2026, 12, 1), date(2026, 12, 4)
    first, last = boundary_days(was, now)
    assert (first, last) == boundary_days(now, was) == (was, now)
    # a start on the new day, an inclusive end on the old day, an exclusive end on the new day
    for flip in (now, was, date(2026, 12, 2)):
        assert first <= flip <= last


def test_the_offices_day_is_utc_plus_8() -> None:
    from datetime import UTC, datetime

    assert local_today(now=datetime(2026, 11, 30, 16, 0, tzinfo=UTC)) == date(2026, 12, 1)


async def test_the_day_worker_moves_the_day_once_and_catches_up() -> None:
    uow = FakeUnitOfWork()
    uow.projection.day = date(2026, 12, 1)
    assert await advance_day(uow, date(2026, 12, 1)) is None  # already there
    assert await advance_day(uow, date(2026, 12, 5)) == 0  # nothing dated in between
    assert uow.projection.day == date(2026, 12, 5)


def test_subregions_sort_by_rate_with_missing_rates_last_and_ties_by_code() -> None:
    from services.coverage.domain.rates import (
        Coverage,
        InvalidSort,
        SubregionFigures,
        sorted_subregions,
    )

    def row(code: str, covered: int, in_scope: int) -> SubregionFigures:
        figure = Coverage(covered, in_scope, "with_members")
        none = Coverage(0, in_scope, "with_members")
        return SubregionFigures(code, figure, figure, figure, none, figure)

    rows = [row("103", 1, 2), row("101", 0, 0), row("102", 1, 2), row("104", 2, 2)]
    codes = [r.region_code for r in sorted_subregions(rows, "-organization_rate")]
    assert codes == ["104", "102", "103", "101"]
    codes = [r.region_code for r in sorted_subregions(rows, "organization_rate")]
    assert codes == ["102", "103", "104", "101"]
    assert [r.region_code for r in sorted_subregions(rows, "-uncovered")][:2] == ["102", "103"]
    with pytest.raises(InvalidSort):
        sorted_subregions(rows, "name")
