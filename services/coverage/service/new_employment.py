"""The new employment groups (新就业群体) beside the two rates: the stations service's facts kept
(a region's figures on the projection's day are read with its rates: `service.rates`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from libs.common.logging import get_logger
from services.coverage.store.uow import CoverageUnitOfWork

log = get_logger(__name__)


@dataclass(frozen=True)
class WorkerRegistered:
    worker_id: str
    region_code: str
    registered_on: date


@dataclass(frozen=True)
class WorkerCheckedIn:
    worker_id: str
    region_code: str
    checked_in_on: date


@dataclass(frozen=True)
class StationMoved:
    """A station opened, changed or closed, at a version."""

    station_id: str
    version: int
    region_code: str
    opened_on: date | None = None
    closed_on: date | None = None


@dataclass(frozen=True)
class RequestMoved:
    """A request resolved (on a day, on time or not) or reopened (`resolved_on` None)."""

    request_id: str
    version: int
    region_code: str
    resolved_on: date | None = None
    on_time: bool = False


async def workers_registered(uow: CoverageUnitOfWork, moved: list[WorkerRegistered]) -> None:
    await uow.new_employment.register_workers([vars(m) for m in moved])


async def workers_checked_in(uow: CoverageUnitOfWork, moved: list[WorkerCheckedIn]) -> None:
    await uow.new_employment.check_in_workers([vars(m) for m in moved])


async def stations_moved(uow: CoverageUnitOfWork, moved: list[StationMoved]) -> None:
    await uow.new_employment.write_stations([vars(m) for m in moved])


async def requests_moved(uow: CoverageUnitOfWork, moved: list[RequestMoved]) -> None:
    await uow.new_employment.write_requests([vars(m) for m in moved])


async def reconcile_days(uow: CoverageUnitOfWork) -> int:
    """The day rows checked against the items' rows at the province level, and made again from
    them when they differ (items written without their day rows: a release from before
    migration 0012 still running during a rollout, or run again after a roll-back); returns the
    province days that differed (0: nothing done)."""
    drifted = await uow.new_employment.drifted_days()
    if drifted:
        rows = await uow.new_employment.recount_days()
        log.warning(
            "new-employment day rows differed from the items: recounted", days=drifted, rows=rows
        )
    return drifted
