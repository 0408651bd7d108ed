"""The offices' calendar: every domain date is a date in China (Asia/Shanghai), and durations
are calendar months and years, never day counts (DOMAIN.md)."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

__all__ = ["SHANGHAI", "add_months", "add_years", "local_today"]

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
