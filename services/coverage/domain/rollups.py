"""Roll-ups (汇总): what one organisation adds to the coverage counters of every area it is in.

A roll-up row is keyed by area × kind × industry section × size band and holds, for each named
scope, five counters: organisations in scope (the denominator), those a Party organisation covers
(their own or a joint branch), those with a branch of their own (单独组建), those Party work
reaches, those only a temporary Party organisation reaches (临时党组织, its own figure), and
those covered effectively (有效覆盖: the covering branch kept its routine last quarter).
When an organisation's facts change, its old contribution is subtracted and its new one added,
so a read never scans organisations.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from functools import lru_cache
from operator import add
from typing import NamedTuple

from libs.common.validators import InvalidCode, region_ancestors
from services.coverage.domain.facts import SCOPES, CoverageFacts, size_band

MEASURES: tuple[str, ...] = (
    "in_scope",
    "covered",
    "standalone",
    "work",
    "temporary",
    "effective",
)
#: Counter names, one per scope and measure: `with_members_in_scope`, `all_managed_work`, ...
COUNTERS: tuple[str, ...] = tuple(f"{scope}_{measure}" for scope in SCOPES for measure in MEASURES)

UNKNOWN_SECTION = "unknown"

#: GB/T 4754-2017: the section letter of each two-digit division (门类 ← 大类).
_SECTION_OF_DIVISION: tuple[tuple[int, int, str], ...] = (
    (1, 5, "A"),
    (6, 12, "B"),
    (13, 43, "C"),
    (44, 46, "D"),
    (47, 50, "E"),
    (51, 52, "F"),
    (53, 60, "G"),
    (61, 62, "H"),
    (63, 65, "I"),
    (66, 69, "J"),
    (70, 70, "K"),
    (71, 72, "L"),
    (73, 75, "M"),
    (76, 79, "N"),
    (80, 82, "O"),
    (83, 83, "P"),
    (84, 85, "Q"),
    (86, 90, "R"),
    (91, 96, "S"),
    (97, 97, "T"),
)


@lru_cache(maxsize=10_000)
def industry_section(industry_code: str | None) -> str:
    """The GB/T 4754 section letter (门类) of an industry code: `I6513` -> `I`, `6513` -> `I`."""
    code = (industry_code or "").strip().upper()
    if not code:
        return UNKNOWN_SECTION
    if "A" <= code[0] <= "T":
        return code[0]
    if code[:2].isdigit():
        division = int(code[:2])
        for low, high, section in _SECTION_OF_DIVISION:
            if low <= division <= high:
                return section
    return UNKNOWN_SECTION


class RollupKey(NamedTuple):
    """One roll-up row: a region (and, when `area_id` is set, a park or commercial district
    within it), the kind of organisation, its industry section and its size band (a tuple:
    hashed and sorted at C speed, a few thousand times per batch)."""

    region_code: str
    area_id: str  # "" for the whole region
    kind: str
    section: str
    size_band: str


@lru_cache(maxsize=100_000)
def regions_of(region_code: str) -> tuple[str, ...]:
    """Every level the organisation rolls up to: province, city, county, township, village
    (cached: a province has some tens of thousands of codes, and this runs per organisation)."""
    try:
        return tuple(region_ancestors(region_code))
    except InvalidCode:
        return (region_code,)


#: What decides the rows an organisation counts in: its region, kind, industry section, size band
#: and parks (the arguments of `_keys`).
Place = tuple[str, str, str, str, tuple[str, ...]]


def place_of(facts: CoverageFacts) -> Place:
    return (
        facts.region_code,
        facts.kind,
        industry_section(facts.industry_code),
        size_band(facts.staff_count),
        tuple(sorted(set(facts.area_ids))) if facts.area_ids else (),
    )


def rollup_keys(facts: CoverageFacts) -> tuple[RollupKey, ...]:
    """The rows an organisation counts in: each ancestor region, and each of its parks or
    commercial districts within each ancestor region (so a park's figures are region-scoped)."""
    return _keys(*place_of(facts))


def _keys(
    region_code: str, kind: str, section: str, band: str, area_ids: tuple[str, ...]
) -> tuple[RollupKey, ...]:
    keys = []
    for region in regions_of(region_code):
        keys.append(RollupKey(region, "", kind, section, band))
        keys.extend(RollupKey(region, area, kind, section, band) for area in area_ids)
    return tuple(keys)


def counts(facts: CoverageFacts) -> tuple[int, ...]:
    """The organisation's counters (0 or 1 each), in the order of COUNTERS."""
    return _counts(
        facts.scopes,
        facts.organization_covered,
        facts.standalone,
        facts.work_covered,
        facts.temporary,
        facts.effective,
    )


@lru_cache(maxsize=1024)
def _counts(
    scopes: frozenset[str],
    covered: bool,
    standalone: bool,
    work: bool,
    temporary: bool,
    effective: bool,
) -> tuple[int, ...]:
    values: list[int] = []
    for scope in SCOPES:
        counted = scope in scopes
        values += [int(counted), int(counted and covered), int(counted and standalone)]
        values += [int(counted and work), int(counted and temporary), int(counted and effective)]
    return tuple(values)


@lru_cache(maxsize=256)
def _nonzero(values: tuple[int, ...], sign: int) -> tuple[tuple[int, int], ...]:
    """The counters an organisation moves, as (index, change): most move one or two."""
    return tuple((i, sign * value) for i, value in enumerate(values) if value)


class RollupDelta:
    """The change a batch makes to the roll-ups, summed in memory and written at once.

    The counters are summed per place first (region, kind, section, size band, parks: many of
    a batch's organisations share one) and spread over the place's rows once, when the rows are
    asked for, rather than once per organisation."""

    def __init__(self) -> None:
        self._by_place: defaultdict[Place, list[int]] = defaultdict(_zeros)
        self._delta: dict[RollupKey, list[int]] = {}

    def add(self, facts: CoverageFacts | None, sign: int) -> None:
        if facts is None:
            return
        moved = _nonzero(counts(facts), sign)
        if not moved:
            return
        row = self._by_place[place_of(facts)]
        for i, change in moved:
            row[i] += change

    def _spread(self) -> dict[RollupKey, list[int]]:
        """The per-place sums added to each of the place's rows, a level at a time: the sums of
        the places in one region are added up into its parent's place before they are spread
        over the parent's rows, so a county's rows take a sum per township, not one per
        organisation (a batch's organisations are mostly in places of their own).

        A row is summed into a new list (`_plus`), never changed in place, so one place's sums
        may be both a row and its parent's place without a copy."""
        delta = self._delta
        level: dict[Place, list[int]] = self._by_place
        self._by_place = defaultdict(_zeros)
        while level:
            parents: dict[Place, list[int]] = {}
            for place, values in level.items():
                if not any(values):
                    continue
                region_code, kind, section, band, area_ids = place
                region, parent = _region_and_parent(region_code)
                key = RollupKey(region, "", kind, section, band)
                delta[key] = _plus(delta.get(key), values)
                for area_id in area_ids:
                    key = RollupKey(region, area_id, kind, section, band)
                    delta[key] = _plus(delta.get(key), values)
                if parent is not None:
                    up = (parent, kind, section, band, area_ids)
                    parents[up] = _plus(parents.get(up), values)
            level = parents
        return delta

    def change(self, old: CoverageFacts | None, new: CoverageFacts | None) -> None:
        """An organisation went from `old` to `new` (None: not counted at all)."""
        self.add(old, -1)
        self.add(new, +1)

    def take(self, which: Callable[[RollupKey], bool]) -> dict[RollupKey, tuple[int, ...]]:
        """The rows of the keys `which` picks (as `rows` gives them), forgotten here."""
        delta = self._spread()
        picked = [key for key in delta if which(key)]
        taken = {key: tuple(delta.pop(key)) for key in sorted(picked)}
        return {key: row for key, row in taken.items() if any(row)}

    def rows(self) -> dict[RollupKey, tuple[int, ...]]:
        """The keys whose counters change, with how much, in key order (so concurrent writers
        lock rows in one order)."""
        return {key: tuple(row) for key, row in sorted(self._spread().items()) if any(row)}


def _zeros() -> list[int]:
    return [0] * len(COUNTERS)


def _plus(row: list[int] | None, values: list[int]) -> list[int]:
    """`values` added to `row` (None: no row yet) as a new list; neither is changed."""
    return values if row is None else list(map(add, row, values))


@lru_cache(maxsize=100_000)
def _region_and_parent(region_code: str) -> tuple[str, str | None]:
    """A region's own row code and the code of the region above it (None for the top), as
    `regions_of` names them."""
    regions = regions_of(region_code)
    return regions[-1], regions[-2] if len(regions) > 1 else None
