"""The offices' calendar: coverage facts are as of a day in Asia/Shanghai (UTC+8, no daylight
saving), and a day boundary flips what starts or ends on it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

#: Asia/Shanghai has kept UTC+8 all year since 1991.
SHANGHAI_UTC_OFFSET_HOURS = 8.0


def local_today(
    utc_offset_hours: float = SHANGHAI_UTC_OFFSET_HOURS, now: datetime | None = None
) -> date:
    """The calendar day in the offices' time zone (China: UTC+8)."""
    return ((now or datetime.now(UTC)) + timedelta(hours=utc_offset_hours)).date()


def shanghai_today() -> date:
    return local_today(SHANGHAI_UTC_OFFSET_HOURS)


def boundary_days(was: date, now: date) -> tuple[date, date]:
    """The dates on which something that starts or ends may count differently on `now` than on
    `was` (either way round), as one inclusive range: a first day after `was` up to `now`, a
    last day (inclusive end) from `was` to the day before `now`, a first day without (exclusive
    end) after `was` up to `now` all lie in it."""
    return min(was, now), max(was, now)


def local_date(moment: datetime, utc_offset_hours: float = SHANGHAI_UTC_OFFSET_HOURS) -> date:
    """The offices' calendar day of a moment (an aware datetime)."""
    return local_today(utc_offset_hours, now=moment.astimezone(UTC))
