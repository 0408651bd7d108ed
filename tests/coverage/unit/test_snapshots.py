"""Snapshots in memory: one a day from the worker, replaced on demand, on the offices' day."""

from __future__ import annotations

from datetime import UTC, date, datetime

from libs.common.calendar import local_today
from services.coverage.service.snapshots import take_daily_snapshot, take_snapshot
from tests.coverage.unit.fakes import FakeRollups, FakeUnitOfWork, counts

DAY = date(2026, 11, 30)


def unit_of_work() -> FakeUnitOfWork:
    return FakeUnitOfWork(
        rollups=FakeRollups(
            {
                ("14", ""): counts(all_managed_in_scope=10, all_managed_work=4),
                ("140212", ""): counts(all_managed_in_scope=3, all_managed_work=1),
            }
        )
    )


async def test_the_daily_snapshot_is_taken_once_a_day() -> None:
    uow = unit_of_work()
    assert await take_daily_snapshot(uow, DAY) == 2
    first = uow.rollups.snapshots[DAY]
    uow.rollups.counts[("14", "")] = counts(all_managed_in_scope=11)
    assert await take_daily_snapshot(uow, DAY) is None
    assert uow.rollups.snapshots[DAY] == first
    assert await take_daily_snapshot(uow, date(2026, 12, 1)) == 2
    assert uow.events == []


async def test_a_snapshot_on_demand_replaces_the_days_own() -> None:
    uow = unit_of_work()
    await take_daily_snapshot(uow, DAY)
    uow.rollups.counts[("14", "")] = counts(all_managed_in_scope=11)
    assert await take_snapshot(uow, DAY) == 2
    _, stored = uow.rollups.snapshots[DAY]
    assert stored[("14", "")].get("all_managed", "in_scope") == 11


def test_the_day_is_the_offices_day() -> None:
    evening_utc = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    assert local_today(evening_utc) == date(2026, 12, 1)
