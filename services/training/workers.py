"""Background loops of the training service: the daily judgement of the branch routine and the
pipeline's deadline timers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date

from libs.common.db import Database
from libs.common.logging import get_logger
from libs.common.service import Runtime, Worker
from libs.common.tasks import StopSignal, stop_loop
from services.training.domain.periods import local_today
from services.training.service.candidates import announce_deadlines
from services.training.service.routine import judge_routines
from services.training.settings import TrainingSettings
from services.training.store.uow import TrainingUnitOfWork

log = get_logger(__name__)


class RoutineJudge:
    """Judges every branch's closed periods, a batch per transaction, whenever it wakes.

    Durable by construction: each branch stores how far it was judged, so after a restart (or
    days of downtime) the next round judges whatever closed meanwhile, and nothing twice."""

    def __init__(self, db: Database, settings: TrainingSettings) -> None:
        self.db = db
        self.settings = settings
        self.rules = settings.routine_rules()
        self._stopping = StopSignal()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="training-routine-judge")

    async def stop(self) -> None:
        await stop_loop(self._task, self._stopping, grace=10.0)
        self._task = None

    async def run_once(self, today: date | None = None) -> int:
        """Judge everything due on `today` (Asia/Shanghai); returns how many branches."""
        day = today or local_today()
        total = 0
        while not self._stopping.is_set:
            async with TrainingUnitOfWork(self.db) as uow:
                judged = await judge_routines(
                    uow, self.rules, today=day, limit=self.settings.routine_batch_size
                )
            total += judged
            if judged < self.settings.routine_batch_size:
                break
        if total:
            log.info("routine periods judged", day=day.isoformat(), branches=total)
        return total

    async def _run(self) -> None:
        while not self._stopping.is_set:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("routine judgement failed")
            await self._stopping.sleep(self.settings.routine_check_seconds)


class DeadlineTimer:
    """Announces pipeline deadlines coming near or passed (talk, approval, probation end), each
    once: the marks are stored with the events, so after downtime it announces what it missed."""

    def __init__(self, db: Database, settings: TrainingSettings) -> None:
        self.db = db
        self.settings = settings
        self._stopping = StopSignal()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="training-deadlines")

    async def stop(self) -> None:
        await stop_loop(self._task, self._stopping, grace=10.0)
        self._task = None

    async def run_once(self, today: date | None = None) -> int:
        day = today or local_today()
        total = 0
        while not self._stopping.is_set:
            async with TrainingUnitOfWork(self.db) as uow:
                found = await announce_deadlines(uow, day, self.settings.routine_batch_size)
            total += found
            if found == 0:
                break
        return total

    async def _run(self) -> None:
        while not self._stopping.is_set:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("deadline announcements failed")
            await self._stopping.sleep(self.settings.deadline_check_seconds)


def deadline_worker(settings: TrainingSettings) -> Callable[[Runtime], Worker]:
    return lambda runtime: DeadlineTimer(runtime.db, settings)


def routine_worker(settings: TrainingSettings) -> Callable[[Runtime], Worker]:
    return lambda runtime: RoutineJudge(runtime.db, settings)
