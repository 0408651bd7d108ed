"""The new-employment counts kept as day rows, on both stores: after random batches of
registrations (moves included), check-ins (before registrations too), stations opened, changed
and closed and requests resolved and reopened, at random versions and repeated, a region's
counts read with its rates (`RollupRepository.live`) are on every level and day what the
workers', stations' and requests' own rows give counted one by one; and migration 0012 fills
the day rows of a store that already holds such rows the same way."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from libs.common.db import Database
from libs.common.migrations import alembic_config, upgrade_to_head
from services.coverage.app import definition
from services.coverage.employment_recount import recount_employment
from services.coverage.service import new_employment as facts
from services.coverage.store.tables import requests, stations, workers
from services.coverage.store.uow import CoverageUnitOfWork
from tests.harness import POSTGRESQL_ONLY

START = date(2026, 11, 1)
VILLAGES = ("140212101001", "140212101002", "140212102001", "140213101001", "140212")
ASKED = ("14", "1402", "140212", "140212101", "140212101001", "140213", "140212102001", "15")
NOW = datetime(2026, 12, 2, tzinfo=UTC)


def _day(rng: random.Random, empty: float = 0.0) -> date | None:
    return None if rng.random() < empty else START + timedelta(days=rng.randrange(15))


async def _random_batch(db: Database, rng: random.Random, versions: dict[str, int]) -> None:
    registered, checked_in, moved_stations, moved_requests = [], [], [], []
    for _ in range(rng.randrange(1, 30)):
        n = rng.randrange(25)
        choice = rng.random()
        if choice < 0.3:
            day = _day(rng)
            assert day is not None
            registered.append(facts.WorkerRegistered(f"w{n}", rng.choice(VILLAGES), day))
        elif choice < 0.5:
            day = _day(rng)
            assert day is not None
            checked_in.append(facts.WorkerCheckedIn(f"w{n}", rng.choice(VILLAGES), day))
        elif choice < 0.75:
            key = f"s{n}"
            versions[key] = versions.get(key, 0) + rng.choice((1, 1, 0, -1))  # late ones too
            moved_stations.append(
                facts.StationMoved(
                    key,
                    versions[key],
                    rng.choice(VILLAGES),
                    opened_on=_day(rng, 0.3),
                    closed_on=_day(rng, 0.6),
                )
            )
        else:
            key = f"r{n}"
            versions[key] = versions.get(key, 0) + rng.choice((1, 1, 0, -1))
            moved_requests.append(
                facts.RequestMoved(
                    key,
                    versions[key],
                    rng.choice(VILLAGES),
                    resolved_on=_day(rng, 0.3),
                    on_time=rng.random() < 0.5,
                )
            )
    async with CoverageUnitOfWork(db) as uow:
        await facts.workers_registered(uow, registered)
        await facts.workers_checked_in(uow, checked_in)
        await facts.stations_moved(uow, moved_stations)
        await facts.requests_moved(uow, moved_requests)


async def _counted(db: Database, region: str, day: date) -> tuple[int, ...]:
    """The rules, row by row over the items' own tables."""
    async with db.read() as session:
        found_workers = (await session.execute(select(workers))).mappings().all()
        found_stations = (await session.execute(select(stations))).mappings().all()
        found_requests = (await session.execute(select(requests))).mappings().all()

    def inside(row: Any) -> bool:
        return str(row["region_code"]).startswith(region)

    def by(on: date | None) -> bool:
        return on is not None and on <= day

    registered = [w for w in found_workers if inside(w) and by(w["registered_on"])]
    resolved = [r for r in found_requests if inside(r) and by(r["resolved_on"])]
    return (
        len(registered),
        sum(1 for w in registered if by(w["checked_in_on"])),
        sum(
            1
            for s in found_stations
            if inside(s) and by(s["opened_on"]) and (s["closed_on"] is None or s["closed_on"] > day)
        ),
        len(resolved),
        sum(1 for r in resolved if r["on_time"]),
    )


async def _read(db: Database, region: str, day: date) -> tuple[int, ...]:
    async with CoverageUnitOfWork(db, readonly=True) as uow:
        return (await uow.rollups.live((region, ""), day)).new_employment


async def _assert_counts_agree(db: Database) -> None:
    for region in ASKED:
        for offset in (-1, 0, 3, 7, 14, 20):
            day = START + timedelta(days=offset)
            assert await _read(db, region, day) == await _counted(db, region, day), (region, day)


async def test_day_rows_count_as_the_items_rows_do(db: Database) -> None:
    rng = random.Random(1202)
    versions: dict[str, int] = {}
    for batch in range(40):
        await _random_batch(db, rng, versions)
        if batch % 10 == 9:
            await _assert_counts_agree(db)


async def _written_directly(
    conn: AsyncConnection, rng: random.Random, n_workers: int, n_stations: int, n_requests: int
) -> None:
    """Workers, stations and requests written straight into their tables, as a release from
    before migration 0012 wrote them (no day rows)."""

    def worker(n: int) -> dict[str, Any]:
        return {
            "worker_id": f"old-w{n}",
            "registered_on": _day(rng, 0.2),
            "checked_in_on": _day(rng, 0.5),
        }

    def station(n: int) -> dict[str, Any]:
        return {"station_id": f"old-s{n}", "opened_on": _day(rng, 0.2), "closed_on": _day(rng, 0.6)}

    def request(n: int) -> dict[str, Any]:
        return {
            "request_id": f"old-r{n}",
            "resolved_on": _day(rng, 0.3),
            "on_time": rng.random() < 0.5,
        }

    for table, row, count in (
        (workers, worker, n_workers),
        (stations, station, n_stations),
        (requests, request, n_requests),
    ):
        versioned = {"version": 1} if "version" in table.c else {}
        await conn.execute(
            insert(table),
            [
                {**row(n), **versioned, "region_code": rng.choice(VILLAGES), "updated_at": NOW}
                for n in range(count)
            ],
        )


async def test_migration_0012_fills_the_day_rows_from_the_items_rows(database_url: str) -> None:
    db = Database(database_url, source="/pb/coverage")
    config = alembic_config(definition().migrations, database_url)

    def upgrade_to_0011(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, "0011")

    rng = random.Random(2)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(upgrade_to_0011)
        async with db.engine.begin() as conn:
            await _written_directly(conn, rng, 60, 30, 40)
        await upgrade_to_head(db, definition().migrations)
        await _assert_counts_agree(db)
        assert await _read(db, "14", START + timedelta(days=20)) != (0, 0, 0, 0, 0)
    finally:
        await asyncio.shield(db.dispose())


@POSTGRESQL_ONLY
async def test_concurrent_batches_touching_one_worker_move_the_day_rows_once(db: Database) -> None:
    """Two replicas' batches: one registers a worker and has not committed when the other
    moves it to another county. The second waits for the first (the writers' lock), reads the
    worker as the first left it, and the day rows count it once, where it is now."""
    registered = facts.WorkerRegistered("w1", "140212101001", START)
    moved = facts.WorkerRegistered("w1", "140213101001", START + timedelta(days=1))
    second_done = asyncio.Event()

    async def second() -> None:
        async with CoverageUnitOfWork(db) as uow:
            await facts.workers_registered(uow, [moved])
        second_done.set()

    async with CoverageUnitOfWork(db) as uow:
        await facts.workers_registered(uow, [registered])
        racing = asyncio.create_task(second())
        await asyncio.sleep(0.5)
        assert not second_done.is_set()  # it waits for this transaction
    await racing
    await _assert_counts_agree(db)
    assert (await _read(db, "140212", START + timedelta(days=5)))[0] == 0
    assert (await _read(db, "140213", START + timedelta(days=5)))[0] == 1


async def test_a_recount_makes_the_day_rows_of_items_written_without_them(db: Database) -> None:
    """A release from before migration 0012 wrote workers, stations and requests without day
    rows (here: straight into their tables); `recount-employment` makes the day rows again."""
    rng = random.Random(7)
    await _random_batch(db, rng, {})
    async with db.engine.begin() as conn:
        await _written_directly(conn, rng, 20, 5, 10)
    stale = await _read(db, "14", START + timedelta(days=20))
    assert stale != await _counted(db, "14", START + timedelta(days=20))
    assert await recount_employment(db) > 0
    await _assert_counts_agree(db)
    assert "recount-employment" in {command.name for command in definition().commands}


async def test_the_check_finds_items_written_without_day_rows_and_recounts(db: Database) -> None:
    """The worker's check (`reconcile_days`): nothing to do while every write kept its day rows;
    items written without them (a release from before migration 0012 during a rollout) are
    found at the province level and the day rows made again."""
    rng = random.Random(11)
    for _ in range(3):
        await _random_batch(db, rng, {})
    async with CoverageUnitOfWork(db) as uow:
        assert await facts.reconcile_days(uow) == 0
    async with db.engine.begin() as conn:
        await _written_directly(conn, rng, 5, 2, 3)
    async with CoverageUnitOfWork(db) as uow:
        assert await facts.reconcile_days(uow) > 0
    await _assert_counts_agree(db)
    async with CoverageUnitOfWork(db) as uow:
        assert await facts.reconcile_days(uow) == 0
