"""The region tree (统计用区划代码, with names) and named areas: parks, districts, buildings.

The tree is as deep as the published data goes (province, city, county, township). A code deeper
than the data (a village under a known township) is accepted when its nearest known ancestor has
no children listed at that level; a code at a level the data lists under that ancestor must be
one of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from libs.common.refusals import Invalid, NotFound
from libs.common.validators import (
    InvalidCode,
    RegionLevel,
    canonical_region_code,
    region_level,
)

AreaKind = Literal["park", "commercial_district", "building"]
AREA_KINDS: tuple[str, ...] = ("park", "commercial_district", "building")

#: Which kinds of area each organisation field may point at.
AREA_FIELD_KINDS: dict[str, frozenset[str]] = {
    "park_id": frozenset({"park"}),
    "district_id": frozenset({"commercial_district", "building"}),
}

_LEVEL_BY_LENGTH: dict[int, RegionLevel] = {
    2: "province",
    4: "city",
    6: "county",
    9: "township",
    12: "village",
}
_PARENT_LENGTHS = (9, 6, 4, 2)

_LEVEL_NAMES: dict[str, str] = {
    "province": "province",
    "city": "city",
    "county": "county",
    "township": "township",
    "village": "village",
}


@dataclass(frozen=True)
class Region:
    """One division of the tree, its code in canonical form (140212, 140212101)."""

    code: str
    name: str
    level: RegionLevel
    parent: str | None


@dataclass(frozen=True)
class Area:
    """A named area: a commercial district or building (商圈, 楼宇) in one township; a park or
    development zone (园区, 经开区, 高新区) in one township or across a county."""

    id: str
    kind: AreaKind
    name: str
    region_code: str  # the township, or the county of a county-level park
    created_at: datetime


class UnknownRegion(Invalid):
    """A well-formed division code that the published data does not hold."""

    def __init__(self, code: str, reason: str, *, field: str = "region_code") -> None:
        super().__init__(field, reason)
        self.code = code


class AreaMisplaced(Invalid):
    """An organisation names an area that is of the wrong kind or outside its township."""


class MalformedRegionCode(Invalid):
    """A division code that is not one at all (length, digits, zero padding)."""


class RegionNotFound(NotFound):
    """A well-formed code the tree does not hold (unknown, or deeper than the data goes)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"region {code} not found: {reason}")
        self.code = code


def canonical_code(code: str, *, field: str = "code") -> str:
    """`code` in canonical form (140212, 140212101); a malformed one is refused by `field`."""
    try:
        return canonical_region_code(code)
    except InvalidCode as exc:
        raise MalformedRegionCode(field, exc.reason) from exc


def _canonical(code: str) -> str:
    """`canonical_region_code` for the published 12-digit codes without its full checks (a
    tenth of the cost; the tree loads ~42,000 codes); anything else goes through them."""
    if len(code) == 12 and code.isascii() and code.isdigit():
        for length in (2, 4, 6, 9, 12):
            if not code[length:].strip("0"):
                return code[:length]
    return canonical_region_code(code)


class RegionTree:
    """Division codes and names, with each code's parent and children (read-only)."""

    def __init__(self, divisions: Iterable[tuple[str, str]], *, source: str = "") -> None:
        self.source = source
        names: dict[str, str] = {}
        for raw, name in divisions:
            try:
                code = _canonical(raw)
            except InvalidCode:
                continue
            if name or code not in names:
                names[code] = name
        self._regions: dict[str, Region] = {}
        self._children: dict[str, list[str]] = {}
        for code in sorted(names, key=lambda c: (len(c), c)):
            parent = self._nearest_known_ancestor(code, names)
            self._regions[code] = Region(code, names[code], _LEVEL_BY_LENGTH[len(code)], parent)
            if parent is not None:
                self._children.setdefault(parent, []).append(code)
        self._child_levels = {
            parent: {self._regions[c].level for c in kids}
            for parent, kids in self._children.items()
        }
        self._roots = sorted(c for c, r in self._regions.items() if r.parent is None)

    @staticmethod
    def _nearest_known_ancestor(code: str, known: dict[str, Any]) -> str | None:
        """`code` canonical: its proper prefixes at level boundaries, deepest first."""
        for length in _PARENT_LENGTHS:
            if length < len(code) and code[:length] in known:
                return code[:length]
        return None

    def __len__(self) -> int:
        return len(self._regions)

    def get(self, code: str) -> Region | None:
        return self._regions.get(canonical_region_code(code))

    def region(self, code: str) -> Region:
        """The division `code` names; refused when the tree does not hold it."""
        found = self.get(code)
        if found is None:
            reason = self.unknown_reason(code) or "deeper than the published division codes go"
            raise RegionNotFound(canonical_region_code(code), reason)
        return found

    def children(self, code: str | None) -> list[Region]:
        kids = self._roots if code is None else self._children.get(canonical_region_code(code), [])
        return [self._regions[c] for c in kids]

    def unknown_reason(self, code: str) -> str | None:
        """Why `code` is not a division the data knows, or None when it is (or may be) one."""
        canonical = canonical_region_code(code)
        if canonical in self._regions or not self._regions:
            return None
        level = region_level(canonical)
        parent = self._nearest_known_ancestor(canonical, self._regions)
        if parent is None:
            return f"no province {canonical[:2]} in the division codes"
        if level in self._child_levels.get(parent, set()):
            where = self._regions[parent]
            return (
                f"no {_LEVEL_NAMES[level]} {canonical} under {where.name} ({where.code}) "
                f"in the division codes{self._of_source()}"
            )
        return None

    def _of_source(self) -> str:
        return f" ({self.source})" if self.source else ""

    def ensure_known(self, code: str, *, field: str = "region_code") -> None:
        reason = self.unknown_reason(code)
        if reason is not None:
            raise UnknownRegion(code, reason, field=field)


#: Where each kind of area may lie: its region's levels.
AREA_LEVELS: dict[str, tuple[str, ...]] = {
    "park": ("county", "township"),
    "commercial_district": ("township",),
    "building": ("township",),
}


def check_area_region(kind: str, level: str | None, region_code: str) -> None:
    """A park or development zone lies in a township or across a county (经开区 at county
    level); a commercial district or building in a township."""
    levels = AREA_LEVELS[kind]
    if level not in levels:
        digits = {"county": 6, "township": 9}
        where = " or ".join(f"a {lv} ({digits[lv]} digits)" for lv in levels)
        raise UnknownRegion(region_code, f"a {kind.replace('_', ' ')} lies in {where}")


def check_area(field: str, area: Area | None, area_id: str, region_code: str) -> None:
    """An organisation in `region_code` may sit in `area` through `field` (park_id, district_id)."""
    if area is None:
        raise AreaMisplaced(field, f"no area {area_id}")
    kinds = AREA_FIELD_KINDS[field]
    if area.kind not in kinds:
        raise AreaMisplaced(field, f"area {area_id} is a {area.kind}, not a {' or '.join(kinds)}")
    if not canonical_region_code(region_code).startswith(area.region_code):
        raise AreaMisplaced(
            field,
            f"area {area_id} lies in {_level_word(area.region_code)} {area.region_code}, "
            f"the organisation in {region_code}",
        )


def _level_word(code: str) -> str:
    return "county" if len(code) <= 6 else "township"
