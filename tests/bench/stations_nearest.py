"""Nearest stations among 100,000 across a province: the grid-cell index against a full scan.

Per store (a fresh database migrated to head): 100,000 open stations (`--events` to change it)
are generated across Shanxi (seeded: four in five around 11 city centres, the rest spread out),
written in bulk (not timed); then 400 nearest queries (k = 5, random points in the province,
one in four with a facility filter) run through the use case the route calls, each in a read
transaction of its own, and 10 of them again as a full scan of the table (same answer, checked).
Printed: p50 and p99 milliseconds of each, and stations read per query.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import date
from pathlib import Path

from libs.common.db import Database
from libs.common.migrations import upgrade_to_head
from libs.common.tables import utcnow
from services.stations.domain.cells import cell_of
from services.stations.domain.coordinates import Point
from services.stations.domain.hours import OpeningHours
from services.stations.domain.stations import NearestQuery, Operator, Standard, Station
from services.stations.service.stations import nearest_by_scan, nearest_stations
from services.stations.store.uow import StationsUnitOfWork
from tests.bench.common import BenchOptions, Table, store
from tests.harness import postgres_available

NAME = "stations_nearest"
DEFAULT_STATIONS = 100_000
QUERIES = 400
SCANS = 10
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "stations" / "store" / "migrations"

#: Shanxi's box and its 11 prefecture-level city centres (WGS-84, approximately).
LAT, LON = (34.6, 40.7), (110.3, 114.5)
CITIES = [
    (37.87, 112.55),  # 太原
    (40.08, 113.30),  # 大同
    (37.86, 113.58),  # 阳泉
    (36.20, 113.12),  # 长治
    (35.49, 112.85),  # 晋城
    (39.33, 112.43),  # 朔州
    (37.69, 112.75),  # 晋中
    (35.03, 110.99),  # 运城
    (38.42, 112.73),  # 忻州
    (36.09, 111.52),  # 临汾
    (37.52, 111.14),  # 吕梁
]
FACILITIES = ("water", "charging", "rest", "microwave", "toilet", "heating", "wifi", "meals")


def generate(n: int, rng: random.Random) -> list[Station]:
    now = utcnow()
    stations = []
    for i in range(n):
        if rng.random() < 0.8:
            lat0, lon0 = rng.choice(CITIES)
            point = Point(lat0 + rng.gauss(0, 0.15), lon0 + rng.gauss(0, 0.15))
        else:
            point = Point(rng.uniform(*LAT), rng.uniform(*LON))
        stations.append(
            Station(
                id=str(uuid.UUID(int=rng.getrandbits(128))),
                name=f"驿站{i}",
                kind="courier",
                region_code="14",
                address=None,
                location=point,
                cell=cell_of(point),
                facilities=tuple(sorted(rng.sample(FACILITIES, 3))),
                hours=OpeningHours(open_24h=True),
                operator=Operator("office"),
                standard=Standard(True, True, True),
                opened_on=date(2026, 1, 1),
                created_at=now,
                updated_at=now,
            )
        )
    return stations


def queries(rng: random.Random) -> list[NearestQuery]:
    today = date(2026, 11, 30)
    return [
        NearestQuery(
            Point(rng.uniform(*LAT), rng.uniform(*LON)),
            5,
            "14",
            100_000,
            today,
            facility="charging" if i % 4 == 0 else None,
        )
        for i in range(QUERIES)
    ]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(kind: str, stations: list[Station], asked: list[NearestQuery]) -> list[str]:
    async with store(kind) as url:
        db = Database(url, source="/pb/stations")
        try:
            await upgrade_to_head(db, MIGRATIONS)
            for start in range(0, len(stations), 5000):
                async with StationsUnitOfWork(db) as uow:
                    await uow.stations.add_many(stations[start : start + 5000])
            indexed: list[float] = []
            answers = []
            for query in asked:
                started = time.perf_counter()
                async with StationsUnitOfWork(db, readonly=True) as uow:
                    answers.append(await nearest_stations(uow, query))
                indexed.append((time.perf_counter() - started) * 1000)
            scanned: list[float] = []
            wrong = 0
            for query, answer in zip(asked[:SCANS], answers, strict=False):
                started = time.perf_counter()
                async with StationsUnitOfWork(db, readonly=True) as uow:
                    baseline = await nearest_by_scan(uow, query)
                scanned.append((time.perf_counter() - started) * 1000)
                wrong += [n.station.id for n in baseline] != [n.station.id for n in answer]
        finally:
            await db.dispose()
    print(
        f"  {kind}: index p50 {percentile(indexed, 0.5):.1f} ms, scan p50 "
        f"{percentile(scanned, 0.5):.0f} ms",
        flush=True,
    )
    return [
        kind,
        f"{len(stations):,}",
        f"{percentile(indexed, 0.5):.1f}",
        f"{percentile(indexed, 0.99):.1f}",
        f"{percentile(scanned, 0.5):.0f}",
        f"{percentile(scanned, 0.99):.0f}",
        f"{percentile(scanned, 0.5) / percentile(indexed, 0.5):.0f}x",
        "yes" if wrong == 0 else f"NO ({wrong} differ)",
    ]


async def run(options: BenchOptions) -> list[Table]:
    rng = random.Random(20261130)
    stations = generate(options.size(DEFAULT_STATIONS), rng)
    asked = queries(rng)
    table = Table(
        title=f"nearest stations (k=5) among {len(stations):,} in a province: cells vs full scan",
        columns=[
            "store",
            "stations",
            "index p50 ms",
            "index p99 ms",
            "scan p50 ms",
            "scan p99 ms",
            "speed-up",
            "same answers",
        ],
    )
    for kind in options.stores:
        if kind == "postgresql" and not await postgres_available():
            table.notes.append("postgresql: SKIPPED, not reachable (set PB_TEST_POSTGRES_URL)")
            continue
        table.rows.append(await measure(kind, stations, asked))
    table.notes.append(
        f"{QUERIES} queries through the use case (one read transaction each; a quarter with "
        f"facility=charging), {SCANS} of them also as a full scan (every open row read, mapped "
        "and measured in Python, as a store without a spatial index would); `--repeats` is ignored"
    )
    return [table]
