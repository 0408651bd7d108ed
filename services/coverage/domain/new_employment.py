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


def region_range(region_code: str) -> tuple[str, str]:
    """The codes of a region and everything under it as a half-open range of strings, so an
    index on the code answers "in this region" (`1402` -> `1402` <= code < `1403`; codes are
    digits, so a trailing `9` goes to `:`)."""
    return region_code, region_code[:-1] + chr(ord(region_code[-1]) + 1)
