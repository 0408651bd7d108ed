"""Calendar periods (month, quarter, year) in the Asia/Shanghai calendar.

A period is half-open, `[starts_on, ends_before)`: it closes on `ends_before`, the first day of
the next one. Durations are calendar months and years, never day counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Literal

from libs.common.calendar import add_months

Frequency = Literal["month", "quarter", "year"]

_MONTHS: dict[Frequency, int] = {"month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True, order=True)
class Period:
    """One calendar month, quarter or year."""

    starts_on: date
    frequency: Frequency

    @classmethod
    def containing(cls, frequency: Frequency, day: date) -> Period:
        months = _MONTHS[frequency]
        first_month = (day.month - 1) // months * months + 1
        return cls(date(day.year, first_month, 1), frequency)

    @cached_property
    def ends_before(self) -> date:
        """The first day after the period: the day it closes."""
        return add_months(self.starts_on, _MONTHS[self.frequency])

    @property
    def last_day(self) -> date:
        return date.fromordinal(self.ends_before.toordinal() - 1)

    @property
    def label(self) -> str:
        """`2026-11`, `2026-Q4`, `2026`."""
        if self.frequency == "month":
            return f"{self.starts_on.year}-{self.starts_on.month:02d}"
        if self.frequency == "quarter":
            return f"{self.starts_on.year}-Q{(self.starts_on.month - 1) // 3 + 1}"
        return str(self.starts_on.year)

    def following(self) -> Period:
        return Period(self.ends_before, self.frequency)

    def holds(self, day: date) -> bool:
        return self.starts_on <= day < self.ends_before


def periods_within(
    frequency: Frequency, starts_on: date, ends_before: date, *, closing_after: date | None = None
) -> Iterator[Period]:
    """The whole periods inside `[starts_on, ends_before)`: a period that began before
    `starts_on` or closes after `ends_before` is not owed by something that lived only between.
    With `closing_after`, only those closing after that day (the ones not yet judged)."""
    period = Period.containing(frequency, max(starts_on, closing_after or starts_on))
    if period.starts_on < starts_on:
        period = period.following()
    while period.ends_before <= ends_before:
        yield period
        period = period.following()
