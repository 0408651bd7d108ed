"""Effective coverage and the new employment figures in plain Python: the last full quarter, when
a day's move changes it, what an organisation counts, and the rates."""

from __future__ import annotations

from datetime import date

import pytest

from services.coverage.domain.facts import CoverageFacts
from services.coverage.domain.new_employment import NewEmploymentFigures
from services.coverage.domain.rollups import COUNTERS, counts
from services.coverage.domain.routine import last_full_quarter, quarter_of, quarters_changed


@pytest.mark.parametrize(
    ("day", "quarter"),
    [
        (date(2026, 11, 30), (date(2026, 7, 1), date(2026, 9, 30))),
        (date(2026, 10, 1), (date(2026, 7, 1), date(2026, 9, 30))),
        (date(2026, 9, 30), (date(2026, 4, 1), date(2026, 6, 30))),
        (date(2027, 1, 1), (date(2026, 10, 1), date(2026, 12, 31))),
        (date(2026, 2, 28), (date(2025, 10, 1), date(2025, 12, 31))),
        (date(2026, 5, 15), (date(2026, 1, 1), date(2026, 3, 31))),
    ],
)
def test_the_last_full_quarter_before_a_day(day: date, quarter: tuple[date, date]) -> None:
    assert last_full_quarter(day) == quarter
    start, end = quarter
    assert quarter_of(start) == quarter_of(end) == quarter


def test_a_move_across_a_quarter_boundary_spans_both_quarters() -> None:
    assert quarters_changed(date(2026, 11, 1), date(2026, 12, 31)) is None
    assert quarters_changed(date(2026, 12, 31), date(2027, 1, 1)) == (
        date(2026, 7, 1),
        date(2026, 12, 31),
    )
    # backwards (a rehearsal day set earlier) too
    assert quarters_changed(date(2027, 1, 1), date(2026, 12, 31)) == (
        date(2026, 7, 1),
        date(2026, 12, 31),
    )


def organisation(**values: object) -> CoverageFacts:
    base: dict[str, object] = {
        "organization_id": "o",
        "region_code": "140212101001",
        "kind": "enterprise",
        "full_members": 1,
        "branch_id": "b",
        "branch_kind": "joint",
    }
    return CoverageFacts(**{**base, **values})  # type: ignore[arg-type]


def counted(facts: CoverageFacts) -> dict[str, int]:
    return dict(zip(COUNTERS, counts(facts), strict=True))


def test_effective_is_organisation_coverage_whose_branch_kept_its_routine() -> None:
    assert organisation().effective
    assert not organisation(branch_kept=False).effective
    assert organisation(branch_kept=False).organization_covered
    # a temporary branch is never organisation coverage, so never effective coverage
    assert not organisation(branch_kind="temporary").effective
    assert not organisation(managed=False).effective
    assert counted(organisation())["with_members_effective"] == 1
    assert counted(organisation(branch_kept=False))["with_members_effective"] == 0
    assert counted(organisation(branch_kept=False))["with_members_covered"] == 1


def test_new_employment_rates() -> None:
    figures = NewEmploymentFigures(
        day=date(2026, 11, 30),
        workers_registered=3,
        workers_checked_in=2,
        open_stations=1,
        requests_resolved=3,
        requests_resolved_on_time=1,
    )
    assert figures.check_in_rate == 0.6667
    assert figures.stations_per_thousand_workers == 333.33
    assert figures.on_time_rate == 0.3333
    empty = NewEmploymentFigures(day=date(2026, 11, 30), open_stations=2)
    assert empty.check_in_rate is None
    assert empty.stations_per_thousand_workers is None
    assert empty.on_time_rate is None
