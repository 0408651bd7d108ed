"""Background loops of the coverage service: the daily snapshot and the debounced
pb.coverage.rates.changed announcer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from libs.common.db import Database
from libs.common.logging import get_logger
from libs.common.service import Runtime, Worker
from libs.common.tasks import StopSignal, stop_loop
from services.coverage.service.announcements import announce_changed_rates
from services.coverage.service.snapshots import take_daily_snapshot
from services.coverage.service.targets import judge_due_targets
from services.coverage.settings import CoverageSettings
from services.coverage.store.uow import CoverageUnitOfWork

log = get_logger(__name__)

Job = Callable[[CoverageUnitOfWork], Awaitable[object]]


class PeriodicJob:
    """Runs `job` in a transaction of its own every `interval` seconds until stopped."""

    def __init__(self, name: str, db: Database, interval: float, job: Job) -> None:
        self.name = name
        self.db = db
        self.interval = interval
        self.job = job
        self._stopping = StopSignal()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        await stop_loop(self._task, self._stopping, grace=10.0)
        self._task = None

    async def run_once(self) -> object:
        async with CoverageUnitOfWork(self.db) as uow:
            return await self.job(uow)

    async def _run(self) -> None:
        while not self._stopping.is_set:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background job failed", job=self.name)
            await self._stopping.sleep(self.interval)


def snapshot_worker(settings: CoverageSettings) -> Callable[[Runtime], Worker]:
    """The day worker: moves the projection on to the offices' day (flipping what starts or ends
    in between, durable: the day is stored, so it catches up after downtime), takes the day's
    snapshot of every region once a day (the first check of a new day), and judges the targets
    whose due date has passed."""

    async def job(uow: CoverageUnitOfWork) -> object:
        today = settings.office_today()
        taken = await take_daily_snapshot(uow, today)
        if taken is not None:
            log.info("daily snapshot taken", day=today.isoformat(), regions=taken)
        judged = await judge_due_targets(uow, today)
        if judged:
            log.info("due targets judged", day=today.isoformat(), targets=judged)
        return taken

    return lambda runtime: PeriodicJob(
        "coverage-snapshots", runtime.db, settings.snapshot_check_seconds, job
    )


def rates_changed_worker(settings: CoverageSettings) -> Callable[[Runtime], Worker]:
    """Announces the regions whose figures changed, once per region per window."""
    return lambda runtime: PeriodicJob(
        "coverage-rates-changed",
        runtime.db,
        settings.rates_changed_window_seconds,
        announce_changed_rates,
    )
