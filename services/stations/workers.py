"""Background loops of the stations service: the SLA timers of the request loop and the daily
`visits.counted` announcement.

Both keep their state in the store (timers are rows written with the move that starts a
deadline; the announcement keeps the last day it has done), so a restart loses nothing: each
round does what is due and sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from libs.common.db import Database
from libs.common.logging import get_logger
from libs.common.service import Runtime, Worker
from libs.common.tables import utcnow
from libs.common.tasks import StopSignal, stop_loop
from services.stations.service.requests import fire_due_timers
from services.stations.service.visits import announce_counted_days
from services.stations.settings import StationsSettings
from services.stations.store.uow import StationsUnitOfWork

log = get_logger(__name__)

#: One round of a job in a transaction of its own; returns how much it did.
Job = Callable[[StationsUnitOfWork], Awaitable[int]]


class PeriodicJob:
    """Runs `job` every `interval` seconds until stopped; while a round does a full `batch`, the
    next one follows at once."""

    def __init__(self, name: str, db: Database, interval: float, job: Job, batch: int = 0) -> None:
        self.name = name
        self.db = db
        self.interval = interval
        self.job = job
        self.batch = batch
        self._stopping = StopSignal()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        await stop_loop(self._task, self._stopping, grace=10.0)
        self._task = None

    async def run_once(self) -> int:
        total = 0
        while True:
            async with StationsUnitOfWork(self.db) as uow:
                done = await self.job(uow)
            total += done
            if not self.batch or done < self.batch:
                return total

    async def _run(self) -> None:
        while not self._stopping.is_set:
            try:
                done = await self.run_once()
                if done:
                    log.info("background job done", job=self.name, items=done)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background job failed", job=self.name)
            await self._stopping.sleep(self.interval)


SLA_BATCH = 500


async def _fire_timers(uow: StationsUnitOfWork) -> int:
    return await fire_due_timers(uow, utcnow(), limit=SLA_BATCH)


def sla_worker(settings: StationsSettings) -> Callable[[Runtime], Worker]:
    """Fires the due SLA timers: reminders, `overdue`, escalation."""
    return lambda runtime: PeriodicJob(
        "stations-sla-timers", runtime.db, settings.sla_check_seconds, _fire_timers, SLA_BATCH
    )


def visits_worker(settings: StationsSettings) -> Callable[[Runtime], Worker]:
    """Announces yesterday's visits per station once the day is over (Asia/Shanghai)."""
    return lambda runtime: PeriodicJob(
        "stations-visits-counted",
        runtime.db,
        settings.visits_check_seconds,
        announce_counted_days,
    )
