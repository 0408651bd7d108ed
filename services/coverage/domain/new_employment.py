"""The new employment groups (新就业群体) beside the two coverage rates: workers registered and
checked in with a community (报到率), open stations per 1,000 registered workers, and requests
resolved on time, per region, from the stations service's events.

What counts on day D (Asia/Shanghai):
- a worker registered on or before D (the day of `registered_at`) in the region;
- of those, a worker who checked in with a community on or before D (报到: once is enough);
- a station open on D: `opened_on` <= D and D < `closed_on` once closed;
- a request of the region whose latest move is a resolution on or before D (a reopened one no
  longer counts until it is resolved again); on time as its resolution says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from services.coverage.domain.rates import rate


@dataclass(frozen=True)
class NewEmploymentFigures:
    """A region's new-employment counts on a day, and the rates made from them."""

    day: date
    workers_registered: int = 0
    workers_checked_in: int = 0
    open_stations: int = 0
    requests_resolved: int = 0
    requests_resolved_on_time: int = 0

    @property
    def check_in_rate(self) -> float | None:
        """报到率: checked in / registered, 4 places; None when none registered."""
        return rate(self.workers_checked_in, self.workers_registered)

    @property
    def stations_per_thousand_workers(self) -> float | None:
        """Open stations per 1,000 registered workers, 2 places; None when none registered."""
        if self.workers_registered <= 0:
            return None
        return round(1000 * self.open_stations / self.workers_registered, 2)

    @property
    def on_time_rate(self) -> float | None:
        """Resolved on time / resolved, 4 places; None when none resolved."""
        return rate(self.requests_resolved_on_time, self.requests_resolved)


#: The lengths a region's code is asked at (province, city, county, township, village).
REGION_LEVELS: tuple[int, ...] = (2, 4, 6, 9, 12)
#: What a region's day rows count, in their columns' order (see `Mark`).
DAY_MEASURES: tuple[str, ...] = ("registered", "checked_in", "open", "resolved", "on_time")
_REGISTERED, _CHECKED_IN, _OPEN, _RESOLVED, _ON_TIME = range(len(DAY_MEASURES))

#: One worker's, station's or request's part in its region's counts: from `day` on, the
#: measure at index `measure` of `DAY_MEASURES` moves by `step` (region code, day, index, step).
Mark = tuple[str, date, int, int]
#: A region's counts on day D are the sum of its day rows up to D: per (region code, day), how
#: much each of `DAY_MEASURES` moves that day.
DayDeltas = dict[tuple[str, date], tuple[int, ...]]


def worker_marks(
    region_code: str, registered_on: date | None, checked_in: date | None
) -> list[Mark]:
    """A worker counts as registered from its registration's day, and as checked in from the
    later of that day and its first check-in (never without a registration)."""
    if registered_on is None:
        return []
    marks = [(region_code, registered_on, _REGISTERED, 1)]
    if checked_in is not None:
        marks.append((region_code, max(registered_on, checked_in), _CHECKED_IN, 1))
    return marks


def station_marks(region_code: str, opened_on: date | None, closed_on: date | None) -> list[Mark]:
    """A station counts as open from its opening day until the day it closes (a station closed
    on or before its opening day is never open)."""
    if opened_on is None:
        return []
    marks = [(region_code, opened_on, _OPEN, 1)]
    if closed_on is not None:
        marks.append((region_code, max(opened_on, closed_on), _OPEN, -1))
    return marks


def request_marks(region_code: str, resolved_on: date | None, on_time: bool) -> list[Mark]:
    """A request counts as resolved (and on time, when it was) from its resolution's day; a
    reopened one (no resolution) not at all."""
    if resolved_on is None:
        return []
    marks = [(region_code, resolved_on, _RESOLVED, 1)]
    if on_time:
        marks.append((region_code, resolved_on, _ON_TIME, 1))
    return marks


def day_deltas(before: Iterable[Mark], after: Iterable[Mark]) -> DayDeltas:
    """What the day rows of every region level move by when marks `before` become `after` (the
    rows of the workers, stations and requests a batch touched, read before and after it): each
    mark counts in its region and every region above it (`REGION_LEVELS`); rows that do not
    move are left out."""
    moved: dict[tuple[str, date], list[int]] = {}
    for marks, sign in ((before, -1), (after, 1)):
        for region_code, day, measure, step in marks:
            for length in REGION_LEVELS:
                if length > len(region_code):
                    break
                key = (region_code[:length], day)
                row = moved.get(key)
                if row is None:
                    row = moved[key] = [0] * len(DAY_MEASURES)
                row[measure] += sign * step
    return {key: tuple(row) for key, row in moved.items() if any(row)}
