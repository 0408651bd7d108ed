"""The projection's writes of a batch, on both stores: new organisations inserted and known ones
updated, and roll-up deltas added batch after batch (on PostgreSQL COPYed through a temporary
table that each commit empties, and that a failed batch leaves as it was)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from libs.common.db import Database
from services.coverage.domain.facts import CoverageFacts
from services.coverage.domain.rollups import COUNTERS, RollupKey
from services.coverage.store.projection import StoredOrganization
from services.coverage.store.uow import CoverageUnitOfWork

NOW = datetime(2026, 12, 1, tzinfo=UTC)
A = RollupKey("140101001001", "", "enterprise", "I", "micro")
B = RollupKey("140101001", "park-1", "enterprise", "I", "micro")


def _counters(**named: int) -> tuple[int, ...]:
    return tuple(named.get(name, 0) for name in COUNTERS)


def _organization(org_id: str, *, full_members: int = 0, version: int = 1) -> StoredOrganization:
    facts = CoverageFacts(
        organization_id=org_id,
        region_code="140101001001",
        kind="enterprise",
        industry_code="I6513",
        staff_count=5,
        area_ids=("park-1",),
        full_members=full_members,
    )
    return StoredOrganization(facts, version, NOW)


async def test_new_organisations_are_inserted_and_known_ones_updated(db: Database) -> None:
    async with CoverageUnitOfWork(db) as uow:
        await uow.projection.organizations(["o1", "o2"])
        await uow.projection.write_organizations(
            [_organization("o1"), _organization("o2")], new={"o1", "o2"}
        )
    async with CoverageUnitOfWork(db) as uow:
        # o3 is new, o1 is not
        await uow.projection.write_organizations(
            [_organization("o1", full_members=4, version=2), _organization("o3")], new={"o3"}
        )
    async with CoverageUnitOfWork(db, readonly=True) as uow:
        stored = await uow.projection.organizations(["o1", "o2", "o3"])
    assert sorted(stored) == ["o1", "o2", "o3"]
    assert (stored["o1"].version, stored["o1"].facts.full_members) == (2, 4)
    assert stored["o3"].facts == _organization("o3").facts


async def _failing_batch(db: Database, delta: dict[RollupKey, tuple[int, ...]]) -> None:
    async with CoverageUnitOfWork(db) as uow:
        await uow.projection.add_to_rollups(delta)
        raise RuntimeError("the batch fails after its roll-ups were written")


async def test_roll_up_deltas_add_up_over_batches_and_a_failed_one_adds_nothing(
    db: Database,
) -> None:
    one = _counters(all_managed_in_scope=1, all_registered_in_scope=1)
    async with CoverageUnitOfWork(db) as uow:
        await uow.projection.add_to_rollups({A: one, B: one})
    with pytest.raises(RuntimeError):
        await _failing_batch(db, {A: one})
    for _ in range(2):  # each commit empties what the batch added through
        async with CoverageUnitOfWork(db) as uow:
            await uow.projection.add_to_rollups({A: one})
    async with CoverageUnitOfWork(db) as uow:
        await uow.projection.add_to_rollups({B: _counters(all_managed_in_scope=-1)})
    async with CoverageUnitOfWork(db, readonly=True) as uow:
        got = await uow.projection.stored_rollups()
    assert got == {
        A: _counters(all_managed_in_scope=3, all_registered_in_scope=3),
        B: _counters(all_registered_in_scope=1),
    }
