"""Calendar periods and calendar arithmetic (Asia/Shanghai, months and years, never days)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from libs.common.calendar import add_months, add_years, local_today
from services.training.domain.periods import Period, periods_within


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 1, 15), -1, date(2025, 12, 15)),
    ],
)
def test_months_are_calendar_months_clamped_to_a_shorter_month(
    day: date, months: int, expected: date
) -> None:
    assert add_months(day, months) == expected


def test_a_year_from_29_february_ends_on_28_february() -> None:
    assert add_years(date(2028, 2, 29), 1) == date(2029, 2, 28)
    assert add_years(date(2028, 2, 29), 4) == date(2032, 2, 29)


@pytest.mark.parametrize(
    ("frequency", "day", "starts_on", "ends_before", "label"),
    [
        ("month", date(2026, 12, 31), date(2026, 12, 1), date(2027, 1, 1), "2026-12"),
        ("quarter", date(2026, 12, 31), date(2026, 10, 1), date(2027, 1, 1), "2026-Q4"),
        ("quarter", date(2027, 1, 1), date(2027, 1, 1), date(2027, 4, 1), "2027-Q1"),
        ("quarter", date(2026, 6, 30), date(2026, 4, 1), date(2026, 7, 1), "2026-Q2"),
        ("year", date(2026, 7, 1), date(2026, 1, 1), date(2027, 1, 1), "2026"),
    ],
)
def test_the_period_containing_a_day(
    frequency: str, day: date, starts_on: date, ends_before: date, label: str
) -> None:
    period = Period.containing(frequency, day)  # type: ignore[arg-type]
    assert (period.starts_on, period.ends_before, period.label) == (starts_on, ends_before, label)
    assert period.holds(day)
    assert period.last_day == date.fromordinal(ends_before.toordinal() - 1)


def test_only_whole_periods_are_within_a_span() -> None:
    quarters = list(periods_within("quarter", date(2026, 11, 23), date(2027, 7, 1)))
    assert [q.label for q in quarters] == ["2027-Q1", "2027-Q2"]
    months = list(periods_within("month", date(2026, 11, 1), date(2027, 1, 15)))
    assert [m.label for m in months] == ["2026-11", "2026-12"]


def test_today_is_the_shanghai_date() -> None:
    # 16:30 UTC on 31 December is already 1 January in Shanghai (UTC+8)
    assert local_today(datetime(2026, 12, 31, 16, 30, tzinfo=UTC)) == date(2027, 1, 1)
    assert local_today(datetime(2026, 12, 31, 15, 59, tzinfo=UTC)) == date(2026, 12, 31)
