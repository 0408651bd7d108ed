"""Day boundaries of the projection: coverage facts are as of a day in Asia/Shanghai
(`libs.common.calendar`), and a day boundary flips what starts or ends on it."""

from __future__ import annotations

from datetime import date, datetime

from libs.common.calendar import local_today


def boundary_days(was: date, now: date) -> tuple[date, date]:
    """The dates on which something that starts or ends may count differently on `now` than on
    `was` (either way round), as one inclusive range: a first day after `was` up to `now`, a
    last day (inclusive end) from `was` to the day before `now`, a first day without (exclusive
    end) after `was` up to `now` all lie in it."""
    return min(was, now), max(was, now)


def local_date(moment: datetime) -> date:
    """The offices' calendar day of a moment (an aware datetime)."""
    return local_today(moment)
