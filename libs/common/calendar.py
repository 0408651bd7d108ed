"""The offices' calendar: every domain date is a date in China (Asia/Shanghai), and durations
are calendar months and years, never day counts (DOMAIN.md)."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "ADJUSTED_WORKING_DAYS",
    "PUBLIC_HOLIDAYS",
    "SHANGHAI",
    "add_months",
    "add_years",
    "holiday_years",
    "local_today",
]

#: The calendar the offices keep (UTC+8 all year since 1991).
SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_today(now: datetime | None = None) -> date:
    """The date a county office would write down at `now` (an aware moment; default: now)."""
    return (now or datetime.now(UTC)).astimezone(SHANGHAI).date()


def add_months(day: date, months: int) -> date:
    """`day` moved by calendar months; the 31st of a shorter month becomes its last day
    (31 Jan + 1 = 28 or 29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def add_years(day: date, years: int) -> date:
    """`day` moved by calendar years (29 Feb + 1 year = 28 Feb)."""
    return add_months(day, 12 * years)


def _days(first: str, last: str) -> frozenset[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return frozenset(start + timedelta(days=n) for n in range((end - start).days + 1))


#: Public holidays (放假) as the State Council's General Office announces them each November for
#: the next year: 2025 by 国办发明电〔2024〕12号, 2026 by the notice of 4 November 2025. A year
#: not listed here has none built in (services that count working days take more by setting).
PUBLIC_HOLIDAYS: frozenset[date] = frozenset().union(
    # 2025: 元旦; 春节; 清明节; 劳动节; 端午节; 国庆节、中秋节
    _days("2025-01-01", "2025-01-01"),
    _days("2025-01-28", "2025-02-04"),
    _days("2025-04-04", "2025-04-06"),
    _days("2025-05-01", "2025-05-05"),
    _days("2025-05-31", "2025-06-02"),
    _days("2025-10-01", "2025-10-08"),
    # 2026: 元旦; 春节; 清明节; 劳动节; 端午节; 中秋节; 国庆节
    _days("2026-01-01", "2026-01-03"),
    _days("2026-02-15", "2026-02-23"),
    _days("2026-04-04", "2026-04-06"),
    _days("2026-05-01", "2026-05-05"),
    _days("2026-06-19", "2026-06-21"),
    _days("2026-09-25", "2026-09-27"),
    _days("2026-10-01", "2026-10-07"),
)

#: Weekend days worked in exchange (调休上班) by the same notices.
ADJUSTED_WORKING_DAYS: frozenset[date] = frozenset(
    date.fromisoformat(day)
    for day in (
        "2025-01-26",
        "2025-02-08",
        "2025-04-27",
        "2025-09-28",
        "2025-10-11",
        "2026-01-04",
        "2026-02-14",
        "2026-02-28",
        "2026-05-09",
        "2026-09-20",
        "2026-10-10",
    )
)


def holiday_years(holidays: frozenset[date] = PUBLIC_HOLIDAYS) -> frozenset[int]:
    """The years a holiday table covers (a year with no holiday listed is not covered)."""
    return frozenset(day.year for day in holidays)
