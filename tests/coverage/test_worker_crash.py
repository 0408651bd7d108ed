"""The coverage worker process (`python -m services.coverage worker`) killed with SIGKILL while
its registry consumer holds a batch, twice, then started again: the projection loses and doubles
nothing. Its consumer is deduplicated by stream sequence alone, so this is the test of a crash
between the projection's write and its ack (what the position covers comes back and is skipped)
and of a batch handed out to a process that died (it is applied before anything after it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nats
from sqlalchemy import func, select

from libs.common.db import Database
from services.coverage.service import rates as coverage
from services.coverage.store.tables import organization_facts
from services.coverage.store.uow import CoverageUnitOfWork
from tests.bench.coverage_projection import CONSUMER, PROVINCE, STREAM, Generator, check, produce
from tests.harness import NatsServer, ServiceDatabases, free_port, wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
ORGANIZATIONS = 3_000


@contextmanager
def worker(database_url: str, nats_url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "PB_COVERAGE_DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "PB_COVERAGE_PORT": str(free_port()),
        "PB_COVERAGE_INBOX_BATCH_SIZE": "200",
        "PB_COVERAGE_INBOX_ACK_WAIT_SECONDS": "8",  # longer than a start-up
        "PB_LOG_LEVEL": "WARNING",
        # what is tested is a crash: at its default lower priority the worker would also wait
        # on whatever else a shared test machine runs (tests/coverage/unit/test_priority.py)
        "PB_COVERAGE_WORKER_NICE": "0",
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.coverage", "worker"],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()


async def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(
    private_nats: NatsServer, service_databases: ServiceDatabases, tmp_path: Path
) -> None:
    url = await service_databases.url("coverage")
    client = await nats.connect(private_nats.url)
    js = client.jetstream()
    generator = Generator(ORGANIZATIONS)
    events = await produce(js, generator)

    async def consumer() -> tuple[int, int, int]:
        """(acknowledged up to, held unacknowledged, not yet delivered)"""
        try:
            info = await js.consumer_info(STREAM, CONSUMER)
        except Exception:  # noqa: BLE001 - not created yet
            return 0, 0, events
        return (
            int(info.ack_floor.stream_seq or 0),
            int(info.num_ack_pending or 0),
            int(info.num_pending or 0),
        )

    kills = 0
    floor = 0
    for _ in range(2):
        with worker(url, private_nats.url, tmp_path / "worker.log") as process:

            async def holding(floor: int = floor) -> bool:
                # this process applied something (past what the last one held) and holds more
                acked, held, left = await consumer()
                return acked > floor and held > 0 and left > 0

            await wait_for(holding, timeout=60, interval=0.01)
            process.send_signal(signal.SIGKILL)  # mid-batch: no ack, no clean shutdown
            process.wait()
            kills += 1
            _, _, left = await consumer()
            floor = events - left  # delivered when it died

    async def caught_up() -> bool:
        _, held, left = await consumer()
        return held == left == 0

    started = time.monotonic()
    with worker(url, private_nats.url, tmp_path / "worker.log"):
        await wait_for(caught_up, timeout=90, interval=0.2)
    await client.close()

    problems: list[str] = []
    db = Database(url, source="/pb/coverage-test")
    try:
        async with CoverageUnitOfWork(db, readonly=True) as uow:
            figures = await coverage.figures(uow, (PROVINCE, ""))
            count = (
                await uow.session.execute(select(func.count()).select_from(organization_facts))
            ).scalar_one()
    finally:
        await db.dispose()
    check(figures, generator.expected, "after the kills", problems)
    assert kills == 2
    assert problems == []
    assert count == ORGANIZATIONS
    assert time.monotonic() - started < 90
