"""Background loops of the stations service: the SLA timers of the request loop and the daily
`visits.counted` announcement.

Both keep their state in the store (timers are rows written with the move that starts a
deadline; the announcement keeps the last day it has done), so a restart loses nothing: each
round does what is due and sleeps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from libs.common.calendar import local_today
from libs.common.db import Database
from libs.common.logging import get_logger
from libs.common.service import Runtime, Worker
from libs.common.tables import utcnow
from libs.common.tasks import PeriodicJob
from services.stations.service.requests import fire_due_timers
from services.stations.service.visits import announce_counted_days
from services.stations.settings import StationsSettings
from services.stations.store.uow import StationsUnitOfWork

log = get_logger(__name__)

#: One batch of a job in a transaction of its own; returns how much it did.
Job = Callable[[StationsUnitOfWork], Awaitable[int]]


def periodic_job(name: str, interval: float, db: Database, job: Job, batch: int = 0) -> PeriodicJob:
    """`job` every `interval` seconds, each batch in a transaction of its own; while a batch is
    full, the next follows at once in the same round (until the job is stopping). A round that
    did anything logs how much."""

    async def one_round() -> int:
        total = 0
        while True:
            async with StationsUnitOfWork(db) as uow:
                done = await job(uow)
            total += done
            if not batch or done < batch or periodic.stopping:
                break
        if total:
            log.info("background job done", job=name, items=total)
        return total

    periodic = PeriodicJob(name, interval, one_round)
    return periodic


SLA_BATCH = 500


async def _fire_timers(uow: StationsUnitOfWork) -> int:
    return await fire_due_timers(uow, utcnow(), limit=SLA_BATCH)


def sla_worker(settings: StationsSettings) -> Callable[[Runtime], Worker]:
    """Fires the due SLA timers: reminders, `overdue`, escalation."""

    def start(runtime: Runtime) -> Worker:
        missing = settings.years_without_holidays(local_today())
        if missing:  # deadlines over those years' holidays fall as on working days
            log.warning(
                "public holidays not configured",
                years=missing,
                setting="PB_STATIONS_EXTRA_HOLIDAYS",
            )
        return periodic_job(
            "stations-sla-timers", settings.sla_check_seconds, runtime.db, _fire_timers, SLA_BATCH
        )

    return start


def visits_worker(settings: StationsSettings) -> Callable[[Runtime], Worker]:
    """Announces yesterday's visits per station once the day is over (Asia/Shanghai)."""
    return lambda runtime: periodic_job(
        "stations-visits-counted",
        settings.visits_check_seconds,
        runtime.db,
        announce_counted_days,
    )
