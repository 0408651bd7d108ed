"""The rebuild's roll-ups, added up by SQL aggregates over the facts, equal the live path's
Python counting (`RollupDelta`) of the same facts, on SQLite and PostgreSQL: closed, revoked,
suspended and deregistered organisations, members or none, 三有 known or not, own, joint and
temporary branches (kept or lapsed), none (an ended one), instructors, mass organisations,
parks, unknown industries and sizes, region codes of every length."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

from libs.common.db import Database
from services.coverage.domain.facts import CoverageFacts
from services.coverage.domain.rollups import RollupDelta
from services.coverage.service.rebuild import recount_rollups
from services.coverage.store.projection import StoredOrganization
from services.coverage.store.uow import CoverageUnitOfWork

NOW = datetime(2026, 11, 23, tzinfo=UTC)
REGIONS = ("140212101001", "140212101002", "140212102", "140212", "140300000000", "150102003004")
INDUSTRIES = (None, "", "I6513", "6513", "C1311", "Z99", "01")
STATUSES = ("operating", "operating", "suspended", "closed", "revoked")
BRANCHES = (None, "standalone", "joint", "temporary")


def varied_facts(n: int) -> list[StoredOrganization]:
    rng = random.Random(15)
    stored = []
    for i in range(n):
        kind = rng.choice(BRANCHES)
        facts = CoverageFacts(
            organization_id=f"org-{i:05d}",
            region_code=rng.choice(REGIONS),
            kind=rng.choice(("enterprise", "social_organization")),
            industry_code=rng.choice(INDUSTRIES),
            staff_count=rng.choice((None, 0, 5, 12, 80, 400)),
            area_ids=rng.choice(((), ("park-1",), ("park-1", "park-2"), ("park-2", "park-2"))),
            managed=rng.random() < 0.85,
            three_haves=rng.choice((None, True, False)),
            operating_status=rng.choice(STATUSES),
            no_branch_reason=rng.choice((None, "无党员")),
            full_members=rng.choice((0, 0, 1, 3)),
            probationary_members=rng.choice((0, 1)),
            ledger_complete=rng.random() < 0.5,
            branch_id=None if kind is None else f"b-{i}",
            branch_kind=kind,  # type: ignore[arg-type]
            instructor_count=rng.choice((0, 0, 2)),
            mass_organization_count=rng.choice((0, 1)),
            branch_formed_on=None if kind is None else date(2026, 1, 1 + i % 28),
            branch_kept=kind is None or rng.random() < 0.7,
        )
        stored.append(StoredOrganization(facts, 1, NOW))
    return stored


async def test_the_sql_aggregate_equals_the_python_counting(db: Database) -> None:
    async with CoverageUnitOfWork(db) as uow:
        await uow.projection.write_organizations(varied_facts(800))
    async with CoverageUnitOfWork(db) as uow:
        ids = [f"org-{i:05d}" for i in range(800)]
        stored = await uow.projection.organizations(ids)
    assert len(stored) == 800
    expected = RollupDelta()
    for organization in stored.values():
        expected.add(organization.facts, +1)
    async with CoverageUnitOfWork(db) as uow:
        written = await recount_rollups(uow)
    async with CoverageUnitOfWork(db, readonly=True) as uow:
        got = await uow.projection.stored_rollups()
    assert got == expected.rows()
    assert written == len(got) > 100
    # a second recount replaces the rows rather than adding to them
    async with CoverageUnitOfWork(db) as uow:
        await recount_rollups(uow)
    async with CoverageUnitOfWork(db, readonly=True) as uow:
        assert await uow.projection.stored_rollups() == expected.rows()
