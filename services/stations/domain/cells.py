"""The spatial index of stations: a fixed grid of cells, and the rings searched outward from one.

Every station stores the number of the cell it lies in (a B-tree index serves `cell IN (...)` on
SQLite and PostgreSQL alike, no extension needed). The nearest search reads ring after ring of
cells around the query point; after ring r every station not yet read lies outside the
(2r+1)×(2r+1) block of cells, so at least `clearance_m(point, r)` away: once k stations found are
within that distance, no unread station can be nearer and the search stops.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from services.stations.domain.coordinates import EARTH_RADIUS_M, Point

#: The side of a cell in degrees (0.05° ≈ 5.6 km north-south; a county has a few hundred).
CELL_DEGREES = 0.05
_COLUMNS = round(360 / CELL_DEGREES)  # 7200
_ROWS = round(180 / CELL_DEGREES)  # 3600


def _row_col(point: Point) -> tuple[int, int]:
    row = min(_ROWS - 1, math.floor((point.latitude + 90.0) / CELL_DEGREES))
    col = math.floor((point.longitude + 180.0) / CELL_DEGREES) % _COLUMNS
    return row, col


def cell_of(point: Point) -> int:
    """The number of the cell `point` lies in."""
    row, col = _row_col(point)
    return row * _COLUMNS + col


def ring(point: Point, radius: int) -> list[int]:
    """The cells at Chebyshev distance `radius` from the point's cell (the centre for 0)."""
    row, col = _row_col(point)
    if radius == 0:
        return [row * _COLUMNS + col]
    cells: list[int] = []
    for r in range(row - radius, row + radius + 1):
        if not 0 <= r < _ROWS:
            continue
        edge = r in (row - radius, row + radius)
        cols = range(col - radius, col + radius + 1) if edge else (col - radius, col + radius)
        cells.extend(r * _COLUMNS + (c % _COLUMNS) for c in cols)
    return sorted(set(cells))


def clearance_m(point: Point, radius: int) -> float:
    """A lower bound of the distance from `point` to anything outside the block of cells within
    `radius` rings of its own: the nearest of the block's four edges (for the east and west
    edges, the cross-track distance to their whole meridian, which no point of the edge beats)."""
    row, col = _row_col(point)
    south = (row - radius) * CELL_DEGREES - 90.0
    north = (row + radius + 1) * CELL_DEGREES - 90.0
    west = (col - radius) * CELL_DEGREES - 180.0
    east = (col + radius + 1) * CELL_DEGREES - 180.0
    metres_per_degree = EARTH_RADIUS_M * math.pi / 180.0
    north_south = min(north - point.latitude, point.latitude - south) * metres_per_degree
    d_lon = math.radians(min(east - point.longitude, point.longitude - west))
    east_west = EARTH_RADIUS_M * math.asin(
        min(1.0, math.cos(math.radians(point.latitude)) * math.sin(min(d_lon, math.pi / 2)))
    )
    return max(0.0, min(north_south, east_west))


def rings(point: Point, max_radius_m: float) -> Iterator[tuple[int, list[int], float]]:
    """(outermost radius, the cells of the rings read together, the clearance after them)
    outward from the point's cell: ring 0, ring 1, then batches of doubling width (2–3, 4–7,
    8–15, ...) so a sparse area costs a few queries, not one per ring; until the clearance
    passes `max_radius_m` (what lies beyond is not wanted)."""
    first = 0
    while True:
        last = first if first < 2 else 2 * first - 1
        cells = [c for radius in range(first, last + 1) for c in ring(point, radius)]
        clearance = clearance_m(point, last)
        yield last, cells, clearance
        if clearance >= max_radius_m or last >= _ROWS:
            return
        first = last + 1
