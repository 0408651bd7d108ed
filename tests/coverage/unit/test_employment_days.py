"""A region's new-employment counts as sums of its day rows: for random workers, stations and
requests, and random changes to them, the day rows (`day_deltas` of each change, added up) give
on every day and at every region level what the counting rules give counted item by item."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta

from services.coverage.domain.new_employment import (
    DAY_MEASURES,
    DayDeltas,
    Mark,
    day_deltas,
    request_marks,
    station_marks,
    worker_marks,
)

START = date(2026, 11, 1)
REGIONS = ("14", "1402", "140212", "140212101", "140212101001", "140212102003", "140213101001")


def _day(rng: random.Random) -> date | None:
    return None if rng.random() < 0.25 else START + timedelta(days=rng.randrange(20))


def _state(rng: random.Random, kind: str) -> tuple[str, date | None, date | bool | None]:
    region = rng.choice(REGIONS)
    if kind == "request":
        return region, _day(rng), rng.random() < 0.5
    return region, _day(rng), _day(rng)


def _marks(kind: str, state: tuple[str, date | None, date | bool | None]) -> list[Mark]:
    region, first, second = state
    if kind == "worker":
        assert not isinstance(second, bool)
        return worker_marks(region, first, second)
    if kind == "station":
        assert not isinstance(second, bool)
        return station_marks(region, first, second)
    return request_marks(region, first, bool(second))


def _counted(
    items: dict[tuple[str, int], tuple[str, date | None, date | bool | None]],
    region: str,
    day: date,
) -> tuple[int, ...]:
    """The rules, item by item (the module's docstring)."""
    counts = dict.fromkeys(DAY_MEASURES, 0)
    for (kind, _), (code, first, second) in items.items():
        if not code.startswith(region):
            continue
        if kind == "worker" and first is not None and first <= day:
            counts["registered"] += 1
            if isinstance(second, date) and second <= day:
                counts["checked_in"] += 1
        open_on_day = second is None or (isinstance(second, date) and second > day)
        if kind == "station" and first is not None and first <= day and open_on_day:
            counts["open"] += 1
        if kind == "request" and first is not None and first <= day:
            counts["resolved"] += 1
            counts["on_time"] += bool(second)
    return tuple(counts[name] for name in DAY_MEASURES)


def _summed(rows: dict[tuple[str, date], list[int]], region: str, day: date) -> tuple[int, ...]:
    totals = [0] * len(DAY_MEASURES)
    for (code, on), row in rows.items():
        if code == region and on <= day:
            totals = [a + b for a, b in zip(totals, row, strict=True)]
    return tuple(totals)


def _add(rows: dict[tuple[str, date], list[int]], moved: DayDeltas) -> None:
    for key, row in moved.items():
        rows[key] = [a + b for a, b in zip(rows[key], row, strict=True)]


def test_day_rows_count_as_the_rules_do_through_every_change() -> None:
    rng = random.Random(20261202)
    items: dict[tuple[str, int], tuple[str, date | None, date | bool | None]] = {}
    rows: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0] * len(DAY_MEASURES))
    for _ in range(600):
        key = (rng.choice(("worker", "station", "request")), rng.randrange(40))
        before = _marks(key[0], items[key]) if key in items else []
        items[key] = _state(rng, key[0])
        _add(rows, day_deltas(before, _marks(key[0], items[key])))
    for region in {*REGIONS, "140212101", "99"}:
        for offset in range(-1, 22):
            day = START + timedelta(days=offset)
            assert _summed(rows, region, day) == _counted(items, region, day), (region, day)


def test_a_change_that_moves_nothing_writes_no_row() -> None:
    marks = worker_marks("140212101001", date(2026, 11, 3), date(2026, 11, 5))
    assert day_deltas(marks, list(marks)) == {}


def test_a_mark_counts_at_every_level_above_its_region() -> None:
    moved = day_deltas([], request_marks("140212101001", date(2026, 11, 3), on_time=True))
    assert set(moved) == {
        (code, date(2026, 11, 3)) for code in ("14", "1402", "140212", "140212101", "140212101001")
    }
    assert all(row == (0, 0, 0, 1, 1) for row in moved.values())


def test_a_check_in_before_the_registration_counts_from_the_registration() -> None:
    assert worker_marks("14", None, date(2026, 11, 2)) == []
    assert worker_marks("14", date(2026, 11, 9), date(2026, 11, 2)) == [
        ("14", date(2026, 11, 9), 0, 1),
        ("14", date(2026, 11, 9), 1, 1),
    ]


def test_a_station_closed_before_it_opened_is_never_open() -> None:
    moved = day_deltas([], station_marks("14", date(2026, 11, 9), date(2026, 11, 2)))
    assert moved == {}
