"""Background loops of the coverage service: the daily snapshot, the debounced
pb.coverage.rates.changed announcer and the check of the new-employment day rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from libs.common.db import Database
from libs.common.logging import get_logger
from libs.common.service import Runtime, Worker
from libs.common.tasks import PeriodicJob
from services.coverage.service.announcements import announce_changed_rates
from services.coverage.service.new_employment import reconcile_days
from services.coverage.service.snapshots import take_daily_snapshot
from services.coverage.service.targets import judge_due_targets
from services.coverage.settings import CoverageSettings
from services.coverage.store.uow import CoverageUnitOfWork

log = get_logger(__name__)

Job = Callable[[CoverageUnitOfWork], Awaitable[object]]


def in_transaction(db: Database, job: Job) -> Callable[[], Awaitable[object]]:
    """A round of a periodic job: `job` in a transaction of its own."""

    async def one_round() -> object:
        async with CoverageUnitOfWork(db) as uow:
            return await job(uow)

    return one_round


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
        "coverage-snapshots", settings.snapshot_check_seconds, in_transaction(runtime.db, job)
    )


def employment_check_worker(settings: CoverageSettings) -> Callable[[Runtime], Worker]:
    """Checks the new-employment day rows against the items' rows, at start and then every
    `employment_check_seconds`, and recounts them when they differ (`reconcile_days`)."""
    return lambda runtime: PeriodicJob(
        "coverage-employment-check",
        settings.employment_check_seconds,
        in_transaction(runtime.db, reconcile_days),
    )


def rates_changed_worker(settings: CoverageSettings) -> Callable[[Runtime], Worker]:
    """Announces the regions whose figures changed, once per region per window."""
    return lambda runtime: PeriodicJob(
        "coverage-rates-changed",
        settings.rates_changed_window_seconds,
        in_transaction(runtime.db, announce_changed_rates),
    )
