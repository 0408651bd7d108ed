"""Daily snapshots of every region's counters: what the rates' history is read from."""

from __future__ import annotations

from datetime import date

from libs.common.tables import utcnow
from services.coverage.service.calendar import advance_day
from services.coverage.store.uow import CoverageUnitOfWork


async def take_snapshot(uow: CoverageUnitOfWork, taken_on: date) -> int:
    """Store every region's counters as the day's snapshot, the projection first evaluated as
    of that day (replacing one taken earlier that day: only the current day is ever taken, so a
    past day's snapshot is never touched and history answers the same way every time)."""
    await advance_day(uow, taken_on)
    return await uow.rollups.take_snapshot(taken_on, utcnow())


async def take_daily_snapshot(uow: CoverageUnitOfWork, taken_on: date) -> int | None:
    """The day's snapshot, unless one was already taken; None when there was one."""
    await advance_day(uow, taken_on)
    if await uow.rollups.has_snapshot(taken_on):
        return None
    return await uow.rollups.take_snapshot(taken_on, utcnow())
