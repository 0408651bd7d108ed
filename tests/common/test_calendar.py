"""The offices' calendar: Asia/Shanghai dates, calendar months and years."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from libs.common.calendar import SHANGHAI, add_months, add_years, local_today


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 5, 31), 1, date(2026, 6, 30)),
        (date(2026, 12, 31), 2, date(2027, 2, 28)),
        (date(2026, 3, 31), -13, date(2025, 2, 28)),
        (date(2026, 1, 15), -1, date(2025, 12, 15)),
        (date(2026, 11, 30), 0, date(2026, 11, 30)),
    ],
)
def test_months_are_calendar_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


def test_years_are_twelve_calendar_months() -> None:
    assert add_years(date(2028, 2, 29), 1) == date(2029, 2, 28)
    assert add_years(date(2026, 7, 1), -3) == date(2023, 7, 1)


def test_the_day_turns_at_midnight_in_china_not_in_utc() -> None:
    before = datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC)
    assert local_today(before) == date(2026, 11, 30)
    assert local_today(before + timedelta(seconds=1)) == date(2026, 12, 1)
    elsewhere = datetime(2026, 11, 30, 12, 0, tzinfo=timezone(timedelta(hours=-10)))
    assert local_today(elsewhere) == date(2026, 12, 1)


def test_today_defaults_to_now_in_shanghai() -> None:
    assert local_today() in {
        datetime.now(SHANGHAI).date(),
        (datetime.now(SHANGHAI) - timedelta(seconds=5)).date(),
    }
