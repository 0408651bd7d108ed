"""Effective coverage (有效覆盖): whether a branch kept its routine (三会一课) in the last full
calendar quarter before the day the figures are as of.

A branch kept it when no period of its routine lying inside that quarter lapsed without being
met after all (training's `routine.lapsed`, not followed by a `routine.restored` with
`period_met`). The training service judges only the whole periods a branch lived through, so a
branch formed during the quarter is judged on the periods it owed there, and one that owed none
there (formed in its last month, or after it) has missed nothing: it counts as kept until its
first judged period lapses (see docs/coverage.md, "Effective coverage").
"""

from __future__ import annotations

from datetime import date, timedelta


def quarter_of(day: date) -> tuple[date, date]:
    """The calendar quarter holding `day`: its first and last days."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    if first_month == 10:
        return start, date(day.year, 12, 31)
    return start, date(day.year, first_month + 3, 1) - timedelta(days=1)


def last_full_quarter(day: date) -> tuple[date, date]:
    """The last calendar quarter that ended before `day` (Asia/Shanghai dates): on 30 November
    2026, 1 July to 30 September 2026."""
    start, _ = quarter_of(day)
    return quarter_of(start - timedelta(days=1))


def quarters_changed(was: date, now: date) -> tuple[date, date] | None:
    """When moving the day from `was` to `now` changes the last full quarter: the span holding
    both quarters (a lapse with a period inside it may count differently); else None."""
    before, after = last_full_quarter(was), last_full_quarter(now)
    if before == after:
        return None
    return min(before[0], after[0]), max(before[1], after[1])
