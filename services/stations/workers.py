"""Background loops of the stations service: the SLA timers of the request loop.

Timers are rows (`sla_timers`), written with the move that starts a deadline, so a restart
loses none: the worker reads those due, fires each once (its event and its `done` mark in one
transaction) and sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from libs.common.db import Database
from libs.common.logging import get_logger
from libs.common.service import Runtime, Worker
from libs.common.tables import utcnow
from libs.common.tasks import StopSignal, stop_loop
from services.stations.service.requests import fire_due_timers
from services.stations.settings import StationsSettings
from services.stations.store.uow import StationsUnitOfWork

log = get_logger(__name__)


class SlaWorker:
    """Fires the due SLA timers every `interval` seconds, a batch per transaction."""

    name = "stations-sla-timers"

    def __init__(self, db: Database, interval: float, batch: int = 500) -> None:
        self.db = db
        self.interval = interval
        self.batch = batch
        self._stopping = StopSignal()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        await stop_loop(self._task, self._stopping, grace=10.0)
        self._task = None

    async def run_once(self) -> int:
        """Fire what is due now, batch after batch; how many fired."""
        total = 0
        while True:
            async with StationsUnitOfWork(self.db) as uow:
                fired = await fire_due_timers(uow, utcnow(), limit=self.batch)
            total += fired
            if fired < self.batch:
                return total

    async def _run(self) -> None:
        while not self._stopping.is_set:
            try:
                fired = await self.run_once()
                if fired:
                    log.info("SLA timers fired", timers=fired)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("SLA timers failed")
            await self._stopping.sleep(self.interval)


def sla_worker(settings: StationsSettings) -> Callable[[Runtime], Worker]:
    return lambda runtime: SlaWorker(runtime.db, settings.sla_check_seconds)
