"""Daily snapshots of every region's counters: what the rates' history is read from."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from libs.common.tables import utcnow
from services.coverage.store.uow import CoverageUnitOfWork


def local_today(utc_offset_hours: float, now: datetime | None = None) -> date:
    """The calendar day in the offices' time zone (China: UTC+8)."""
    return ((now or datetime.now(UTC)) + timedelta(hours=utc_offset_hours)).date()


async def take_snapshot(uow: CoverageUnitOfWork, taken_on: date) -> int:
    """Store every region's counters as the day's snapshot (replacing one taken earlier that
    day); a past day's snapshot is never touched, so history answers the same way every time."""
    return await uow.rollups.take_snapshot(taken_on, utcnow())


async def take_daily_snapshot(uow: CoverageUnitOfWork, taken_on: date) -> int | None:
    """The day's snapshot, unless one was already taken; None when there was one."""
    if await uow.rollups.has_snapshot(taken_on):
        return None
    return await uow.rollups.take_snapshot(taken_on, utcnow())
