"""The two coverage rates and the standalone rate (单独组建率), from roll-up counts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from libs.common.refusals import Invalid
from services.coverage.domain.facts import Scope
from services.coverage.domain.rollups import COUNTERS

#: What a rate measures: organisations a Party organisation covers (组织覆盖), those with a branch
#: of their own (单独组建), those Party work reaches (工作覆盖).
Metric = Literal["organization", "standalone", "work"]
METRICS: tuple[Metric, ...] = ("organization", "standalone", "work")
_MEASURE_OF: dict[Metric, str] = {
    "organization": "covered",
    "standalone": "standalone",
    "work": "work",
}
#: A region, or a park or commercial district within it: (region_code, area_id), area_id "" for
#: the whole region.
Area = tuple[str, str]
#: The dimensions a region's figures are broken down by.
DIMENSIONS: tuple[str, ...] = ("kind", "section", "size_band")

_FOUR_PLACES = Decimal("0.0001")


def rate(covered: int, in_scope: int) -> float | None:
    """covered / in_scope as a decimal fraction rounded half-up to 4 places (85/88 -> 0.9659);
    None when nothing is in scope."""
    if in_scope <= 0:
        return None
    return float((Decimal(covered) / Decimal(in_scope)).quantize(_FOUR_PLACES, ROUND_HALF_UP))


@dataclass(frozen=True)
class Coverage:
    """One rate with the counts behind it."""

    covered: int
    in_scope: int
    scope: Scope

    @property
    def rate(self) -> float | None:
        return rate(self.covered, self.in_scope)

    def as_dict(self) -> dict[str, object]:
        return {
            "covered": self.covered,
            "in_scope": self.in_scope,
            "rate": self.rate,
            "scope": self.scope,
        }


@dataclass(frozen=True)
class Counts:
    """Summed roll-up counters of some set of organisations, by counter name."""

    values: tuple[int, ...] = (0,) * len(COUNTERS)

    @classmethod
    def total(cls, rows: Iterable[Iterable[int]]) -> Counts:
        # column by column in C (zip, sum): a province's breakdown adds up thousands of values
        sums = [int(sum(column)) for column in zip(*rows, strict=True)]
        return cls(tuple(sums)) if sums else cls()

    def get(self, scope: Scope, measure: str) -> int:
        return self.values[COUNTERS.index(f"{scope}_{measure}")]

    def coverage(self, metric: Metric, scope: Scope) -> Coverage:
        return Coverage(self.get(scope, _MEASURE_OF[metric]), self.get(scope, "in_scope"), scope)

    def temporary(self, scope: Scope) -> Coverage:
        """Organisations in scope that only a temporary Party organisation reaches (their own
        figure: never in the organisation rate)."""
        return Coverage(self.get(scope, "temporary"), self.get(scope, "in_scope"), scope)

    def effective(self, scope: Scope) -> Coverage:
        """Organisations in scope covered effectively (有效覆盖): organisation coverage whose
        branch kept its routine in the last full quarter."""
        return Coverage(self.get(scope, "effective"), self.get(scope, "in_scope"), scope)


@dataclass(frozen=True)
class BreakdownRow:
    """Roll-up counters of one kind × industry section × size band."""

    kind: str
    section: str
    size_band: str
    counts: Counts


def breakdown(
    rows: Iterable[BreakdownRow], organization_scope: Scope, work_scope: Scope
) -> dict[str, dict[str, dict[str, dict[str, object]]]]:
    """Per dimension and value: organisation, standalone and work coverage."""
    grouped: dict[str, dict[str, list[Counts]]] = {d: {} for d in DIMENSIONS}
    for row in rows:
        for dimension in DIMENSIONS:
            grouped[dimension].setdefault(getattr(row, dimension), []).append(row.counts)
    result: dict[str, dict[str, dict[str, dict[str, object]]]] = {}
    for dimension, by_value in grouped.items():
        result[dimension] = {}
        for value in sorted(by_value):
            total = Counts.total(c.values for c in by_value[value])
            result[dimension][value] = {
                "organization_coverage": total.coverage(
                    "organization", organization_scope
                ).as_dict(),
                "standalone_coverage": total.coverage("standalone", organization_scope).as_dict(),
                "work_coverage": total.coverage("work", work_scope).as_dict(),
                "temporary_coverage": total.temporary(organization_scope).as_dict(),
                "effective_coverage": total.effective(organization_scope).as_dict(),
            }
    return result


#: pb.coverage.rates.changed goes down to townships (9 digits): a village's figures are read on
#: demand, and announcing every touched village multiplied the events by tens of thousands.
ANNOUNCED_REGION_DIGITS = 9


def announced(region_code: str) -> bool:
    """Whether a change of this region's figures is announced by pb.coverage.rates.changed."""
    return len(region_code) <= ANNOUNCED_REGION_DIGITS


@dataclass(frozen=True)
class Snapshot:
    """A region's counters as stored on one day."""

    taken_on: date
    taken_at: datetime
    counts: Counts
    #: False for a snapshot taken before effective coverage was counted (its counters are 0)
    effective_measured: bool = True

    def effective(self, scope: Scope) -> Coverage | None:
        """Effective coverage as the snapshot kept it; None when it was not counted then."""
        return self.counts.effective(scope) if self.effective_measured else None


class DayNotKept(Invalid):
    """Rates asked for as of a day other than the projection's day that has no snapshot: the
    organisations' files are kept only as they are now, so a day with no stored snapshot cannot
    be recomputed truthfully, and a future day is not known yet."""

    def __init__(self, day: date, today: date) -> None:
        reason = (
            "is after today: the figures of a future day are not known yet"
            if day > today
            else "has no stored snapshot: a past day is answered only from the snapshot taken "
            "that day (organisation files are not kept per day, so it cannot be recomputed)"
        )
        super().__init__("as_of", reason, message=f"as_of {day.isoformat()} {reason}")


#: The days a history covers when the caller names no first day.
HISTORY_DAYS = 90


class InvalidPeriod(Invalid):
    """A history asked for with its first day after its last."""

    def __init__(self) -> None:
        super().__init__("from", "must not be after to", message="from is after to")


def history_period(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The days a history covers: up to `end` (default: tomorrow, so today's snapshot is in)
    from `start` (default: HISTORY_DAYS before the end); refused when it starts after it ends."""
    end = end or today + timedelta(days=1)
    start = start or end - timedelta(days=HISTORY_DAYS)
    if start > end:
        raise InvalidPeriod()
    return start, end


#: The keys a table of sub-regions sorts by (`-` in front for descending); ties go by code.
SUBREGION_SORTS: tuple[str, ...] = (
    "region_code",
    "organization_rate",
    "standalone_rate",
    "work_rate",
    "temporary_rate",
    "effective_rate",
    "in_scope",
    "uncovered",
)


class InvalidSort(Invalid):
    def __init__(self, sort: str) -> None:
        super().__init__("sort", f"must be one of {', '.join(SUBREGION_SORTS)} (- for descending)")


@dataclass(frozen=True)
class SubregionFigures:
    """One row of a region's table of townships (or counties, ...): its figures."""

    region_code: str
    organization: Coverage
    standalone: Coverage
    work: Coverage
    temporary: Coverage
    effective: Coverage

    def sort_value(self, key: str) -> float | str | None:
        """The value sorted on (None: no rate, nothing in scope)."""
        if key == "region_code":
            return self.region_code
        if key == "in_scope":
            return self.organization.in_scope
        if key == "uncovered":
            return self.organization.in_scope - self.organization.covered
        figure: Coverage = getattr(self, key.removesuffix("_rate"))
        return figure.rate


def sorted_subregions(rows: Iterable[SubregionFigures], sort: str) -> list[SubregionFigures]:
    """Rows in the order `sort` asks for (`-`: descending); ties by region code, regions without
    a rate last; InvalidSort for an unknown key."""
    key = sort.removeprefix("-")
    if key not in SUBREGION_SORTS:
        raise InvalidSort(sort)
    by_code = sorted(rows, key=lambda r: r.region_code)
    present = [r for r in by_code if r.sort_value(key) is not None]
    missing = [r for r in by_code if r.sort_value(key) is None]
    # a stable sort keeps ties in code order, reversed or not
    present.sort(key=lambda r: r.sort_value(key), reverse=sort.startswith("-"))  # type: ignore[arg-type, return-value]
    return present + missing
