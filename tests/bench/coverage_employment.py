"""A province's new-employment counts: written as day rows, read with its rates.

Per store (a fresh database migrated to head): `--events` workers (default 200,000) registered
across the 2,860 villages of 11 cities over two years, seven in ten of them checked in, as many
requests (eight in ten resolved, of those eight in ten on time) and one station for every 25
workers (one in five closed), written through the coverage service's own use cases
(`services.coverage.service.new_employment`) in batches of 2,000, as its stations consumer
applies them (timed: items a second, the day rows included), and the worker's check of the day
rows against the items timed once (`drifted_days`: 0 expected); then each level, province to
village, read 100 times through `RollupRepository.live` (the statement of
`GET /v1/coverage/{region}`, p50 / p99), and 5 times as the counts were made before the day
rows (one range count over each item table), checked equal.
"""

from __future__ import annotations

import random
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy import Table as SqlTable

from libs.common.db import Database
from libs.common.migrations import upgrade_to_head
from services.coverage.service import new_employment as facts
from services.coverage.store.tables import requests, stations, workers
from services.coverage.store.uow import CoverageUnitOfWork
from tests.bench.common import BenchOptions, Table, store
from tests.bench.coverage_projection import townships
from tests.harness import postgres_available

NAME = "coverage_employment"
DEFAULT_WORKERS = 200_000
BATCH = 2000
READS = 100
SCANS = 5
DAY = date(2026, 12, 1)
START = DAY - timedelta(days=730)
LEVELS = {
    "province": "14",
    "city": "1401",
    "county": "140101",
    "township": "140101001",
    "village": "140101001001",
}
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "coverage" / "store" / "migrations"


def villages() -> list[str]:
    """Two villages in each of the projection benchmark's 1,430 townships."""
    return [f"{township}{village:03d}" for township in townships() for village in (1, 2)]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def write(db: Database, n: int, rng: random.Random) -> float:
    """The items written in batches as the consumer would; seconds taken."""
    places = villages()

    def day() -> date:
        return START + timedelta(days=rng.randrange(730))

    started = time.perf_counter()
    for low in range(0, n, BATCH):
        ids = range(low, min(n, low + BATCH))
        registered = [facts.WorkerRegistered(f"w{i}", rng.choice(places), day()) for i in ids]
        checked = [
            facts.WorkerCheckedIn(w.worker_id, w.region_code, day())
            for w in registered
            if rng.random() < 0.7
        ]
        moved = [
            facts.RequestMoved(
                f"r{i}",
                1,
                rng.choice(places),
                resolved_on=day() if rng.random() < 0.8 else None,
                on_time=rng.random() < 0.8,
            )
            for i in ids
        ]
        opened = [
            facts.StationMoved(
                f"s{i}",
                1,
                rng.choice(places),
                opened_on=day(),
                closed_on=day() if rng.random() < 0.2 else None,
            )
            for i in ids
            if i % 25 == 0
        ]
        async with CoverageUnitOfWork(db) as uow:
            await facts.workers_registered(uow, registered)
            await facts.workers_checked_in(uow, checked)
            await facts.requests_moved(uow, moved)
            await facts.stations_moved(uow, opened)
    return time.perf_counter() - started


async def counted(db: Database, region: str) -> tuple[int, ...]:
    """The counts as they were made before the day rows: a range count over each item table."""
    high = region[:-1] + chr(ord(region[-1]) + 1)

    def inside(table: SqlTable) -> ColumnElement[bool]:
        return and_(table.c.region_code >= region, table.c.region_code < high)

    async with db.read() as session:
        worker_counts = (
            await session.execute(
                select(
                    func.count().filter(workers.c.registered_on <= DAY),
                    func.count().filter(
                        workers.c.registered_on <= DAY, workers.c.checked_in_on <= DAY
                    ),
                ).where(inside(workers))
            )
        ).one()
        open_stations = (
            await session.execute(
                select(func.count()).where(
                    inside(stations),
                    stations.c.opened_on <= DAY,
                    or_(stations.c.closed_on.is_(None), stations.c.closed_on > DAY),
                )
            )
        ).scalar_one()
        request_counts = (
            await session.execute(
                select(
                    func.count().filter(requests.c.resolved_on <= DAY),
                    func.count().filter(requests.c.resolved_on <= DAY, requests.c.on_time),
                ).where(inside(requests))
            )
        ).one()
    return (*worker_counts, open_stations, *request_counts)


async def measure(kind: str, n: int, notes: list[str]) -> list[list[str]]:
    rng = random.Random(20261202)
    rows = []
    async with store(kind) as url:
        db = Database(url, source="/pb/coverage")
        try:
            await upgrade_to_head(db, MIGRATIONS)
            seconds = await write(db, n, rng)
            items = n + n + n // 25  # registrations, requests, stations (check-ins ride along)
            started = time.perf_counter()
            async with CoverageUnitOfWork(db, readonly=True) as uow:
                drifted = await uow.new_employment.drifted_days()
            check = time.perf_counter() - started
            print(
                f"  {kind}: {items:,} items written in {seconds:.1f} s; the worker's check of "
                f"the day rows {check * 1000:,.0f} ms ({drifted} days differ)",
                flush=True,
            )
            notes.append(f"{kind}: the worker's check of the day rows took {check * 1000:,.0f} ms")
            for level, region in LEVELS.items():
                read: list[float] = []
                for _ in range(READS):
                    started = time.perf_counter()
                    async with CoverageUnitOfWork(db, readonly=True, one_statement=True) as uow:
                        found = (await uow.rollups.live((region, ""), DAY)).new_employment
                    read.append((time.perf_counter() - started) * 1000)
                scanned: list[float] = []
                for _ in range(SCANS):
                    started = time.perf_counter()
                    expected = await counted(db, region)
                    scanned.append((time.perf_counter() - started) * 1000)
                rows.append(
                    [
                        kind,
                        level,
                        f"{found[0]:,}",
                        f"{items / seconds:,.0f}",
                        f"{percentile(read, 0.5):.2f}",
                        f"{percentile(read, 0.99):.2f}",
                        f"{percentile(scanned, 0.5):.1f}",
                        "yes"
                        if tuple(found) == tuple(expected) and not drifted
                        else f"NO {found} != {expected} ({drifted} days differ)",
                    ]
                )
        finally:
            await db.dispose()
    return rows


async def run(options: BenchOptions) -> list[Table]:
    n = options.size(DEFAULT_WORKERS)
    table = Table(
        title=f"new-employment counts of a province of {n:,} workers: day rows, read by level",
        columns=[
            "store",
            "level",
            "workers",
            "written items/s",
            "read p50 ms",
            "read p99 ms",
            "range count p50 ms",
            "same counts",
        ],
    )
    for kind in options.stores:
        if kind == "postgresql" and not await postgres_available():
            table.notes.append("postgresql: SKIPPED, not reachable (set PB_TEST_POSTGRES_URL)")
            continue
        table.rows.extend(await measure(kind, n, table.notes))
    table.notes.append(
        f"written: registrations, requests and stations through the stations consumer's use "
        f"cases in batches of {BATCH:,} (check-ins of seven in ten workers in the same batches), "
        f"day rows kept in the same transactions; read: {READS} reads a level of the statement "
        f"of GET /v1/coverage/{{region}} (roll-ups and counts, one statement); range count: the "
        f"counts made from the item tables as before migration 0012, {SCANS} times, the same "
        "answer checked; `--repeats` is ignored"
    )
    return [table]
