"""Background loops of the training service: the daily judgement of the branch routine and the
pipeline's deadline timers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from libs.common.db import Database
from libs.common.logging import get_logger
from libs.common.service import Runtime, Worker
from libs.common.tasks import PeriodicJob
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
        self.job = PeriodicJob(
            "training-routine-judge", settings.routine_check_seconds, self.run_once
        )

    def start(self) -> None:
        self.job.start()

    async def stop(self) -> None:
        await self.job.stop()

    async def run_once(self, today: date | None = None) -> int:
        """Judge everything due on `today` (Asia/Shanghai); returns how many branches."""
        day = today or self.settings.office_today()
        total = 0
        while not self.job.stopping:
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


class DeadlineTimer:
    """Announces pipeline deadlines coming near or passed (talk, approval, probation end), each
    once: the marks are stored with the events, so after downtime it announces what it missed."""

    def __init__(self, db: Database, settings: TrainingSettings) -> None:
        self.db = db
        self.settings = settings
        self.job = PeriodicJob("training-deadlines", settings.deadline_check_seconds, self.run_once)

    def start(self) -> None:
        self.job.start()

    async def stop(self) -> None:
        await self.job.stop()

    async def run_once(self, today: date | None = None) -> int:
        day = today or self.settings.office_today()
        total = 0
        while not self.job.stopping:
            async with TrainingUnitOfWork(self.db) as uow:
                found = await announce_deadlines(uow, day, self.settings.routine_batch_size)
            total += found
            if found == 0:
                break
        return total


def deadline_worker(settings: TrainingSettings) -> Callable[[Runtime], Worker]:
    return lambda runtime: DeadlineTimer(runtime.db, settings)


def routine_worker(settings: TrainingSettings) -> Callable[[Runtime], Worker]:
    return lambda runtime: RoutineJudge(runtime.db, settings)
