"""Calendar arithmetic of the domain: durations are calendar months, not days (DOMAIN.md)."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from zoneinfo import ZoneInfo


def add_months(day: date, months: int) -> date:
    """`day` moved by whole calendar months; the 31st of a shorter month is its last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


#: The calendar the offices keep: every domain date is a date in China.
CHINA = ZoneInfo("Asia/Shanghai")


def local_today() -> date:
    """Today's date in Asia/Shanghai (the date a county office would write down)."""
    return datetime.now(CHINA).date()
