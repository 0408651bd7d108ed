"""The grid-cell search gives exactly the brute-force nearest stations, without a store."""

from __future__ import annotations

import random
from datetime import date

from services.stations.domain.cells import cell_of, clearance_m, ring, rings
from services.stations.domain.coordinates import Point, haversine_m
from services.stations.domain.hours import OpeningHours
from services.stations.domain.stations import (
    NearestQuery,
    Operator,
    Standard,
    Station,
    nearest_of,
)


def station(n: int, point: Point, **overrides: object) -> Station:
    values: dict[str, object] = {
        "id": f"s{n:06d}",
        "name": f"驿站{n}",
        "kind": "courier",
        "region_code": "140212",
        "address": None,
        "location": point,
        "cell": cell_of(point),
        "facilities": ("water",) if n % 3 else ("water", "charging"),
        "hours": OpeningHours(open_24h=True),
        "operator": Operator("office"),
        "standard": Standard(),
        "opened_on": date(2026, 1, 1),
    }
    values.update(overrides)
    return Station(**values)  # type: ignore[arg-type]


def test_rings_grow_outward_and_cover_each_cell_once() -> None:
    point = Point(40.0, 113.3)
    seen: set[int] = set()
    for radius in range(4):
        cells = ring(point, radius)
        assert len(cells) == (1 if radius == 0 else 8 * radius)
        assert not seen & set(cells)
        seen |= set(cells)
    assert cell_of(point) in ring(point, 0)


def test_clearance_is_a_true_lower_bound() -> None:
    rng = random.Random(3)
    point = Point(40.02, 113.31)
    for radius in range(5):
        inside = set().union(*(ring(point, r) for r in range(radius + 1)))
        bound = clearance_m(point, radius)
        for _ in range(2000):
            other = Point(point.latitude + rng.uniform(-1, 1), point.longitude + rng.uniform(-1, 1))
            if cell_of(other) not in inside:
                assert haversine_m(point, other) >= bound


def cell_search(query: NearestQuery, stations: list[Station]) -> tuple[list[str], int]:
    """What the service does, on a list instead of a table: (ids found, stations read)."""
    by_cell: dict[int, list[Station]] = {}
    for s in stations:
        by_cell.setdefault(s.cell, []).append(s)
    read: list[Station] = []
    best = []
    for _r, cells, clearance in rings(query.point, query.max_distance_m):
        read += [s for c in cells for s in by_cell.get(c, [])]
        best = nearest_of(query, read)
        if len(best) >= query.k and best[query.k - 1].distance_m <= clearance:
            break
    return [n.station.id for n in best[: query.k]], len(read)


def test_cell_search_equals_brute_force_and_reads_a_fraction() -> None:
    rng = random.Random(11)
    stations = [
        station(n, Point(rng.uniform(38.5, 41.0), rng.uniform(111.0, 114.5))) for n in range(5000)
    ]
    for _ in range(50):
        point = Point(rng.uniform(38.5, 41.0), rng.uniform(111.0, 114.5))
        for facility in (None, "charging"):
            query = NearestQuery(point, 5, "140212", 500_000, date(2026, 11, 30), facility=facility)
            expected = [n.station.id for n in nearest_of(query, stations)[:5]]
            found, read = cell_search(query, stations)
            assert found == expected
            assert read < len(stations) / 4


def test_closed_and_not_yet_opened_stations_are_not_found() -> None:
    here = Point(40.0, 113.3)
    today = date(2026, 11, 30)
    stations = [
        station(1, here, status="closed", closed_on=date(2026, 6, 1)),
        station(2, here, opened_on=date(2026, 12, 1)),
        station(3, Point(40.001, 113.3)),
    ]
    query = NearestQuery(here, 3, "140212", 10_000, today)
    assert [n.station.id for n in nearest_of(query, stations)] == ["s000003"]


def test_max_distance_bounds_the_answer() -> None:
    here = Point(40.0, 113.3)
    far = station(1, Point(40.2, 113.3))  # ~22 km
    assert nearest_of(NearestQuery(here, 1, "14", 10_000, date(2026, 11, 30)), [far]) == []
    assert len(nearest_of(NearestQuery(here, 1, "14", 30_000, date(2026, 11, 30)), [far])) == 1
