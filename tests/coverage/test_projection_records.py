"""The projection's hot-path upserts take each row as values in column order: each value lands
in its own column."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.dialects import sqlite

from services.coverage.domain.facts import CoverageFacts
from services.coverage.store.projection import (
    _UPSERT_COLUMNS,
    StoredOrganization,
    _driver_upsert,
    _record,
)
from services.coverage.store.tables import organization_facts, rollups


def test_a_facts_record_holds_each_value_in_its_column() -> None:
    facts = CoverageFacts(
        organization_id="o1",
        region_code="140101001002",
        kind="enterprise",
        industry_code="I6513",
        staff_count=60,
        area_ids=("park-b", "park-a"),
        managed=True,
        three_haves=False,
        operating_status="suspended",
        no_branch_reason="no members",
        full_members=3,
        probationary_members=2,
        ledger_complete=True,
        branch_id="b1",
        branch_kind="joint",
        instructor_count=4,
        mass_organization_count=5,
        name="n",
        credit_code="c",
        latitude=37.5,
        longitude=112.5,
        branch_formed_on=date(2026, 1, 2),
        branch_kept=False,
    )
    registered, left, now = (datetime(2026, m, 1, tzinfo=UTC) for m in (3, 4, 5))
    record = _record(StoredOrganization(facts, 7, registered, left), now)
    row = dict(zip(_UPSERT_COLUMNS["facts"], record, strict=True))

    assert row == {
        "organization_id": "o1",
        "version": 7,
        "credit_code": "c",
        "name": "n",
        "region_code": "140101001002",
        "township_code": "140101001",
        "kind": "enterprise",
        "industry_code": "I6513",
        "staff_count": 60,
        "size_band": "50-299",
        "area_ids": '["park-a", "park-b"]',
        "managed": True,
        "three_haves": False,
        "operating_status": "suspended",
        "no_branch_reason": "no members",
        "full_members": 3,
        "probationary_members": 2,
        "ledger_complete": True,
        "latitude": 37.5,
        "longitude": 112.5,
        "branch_id": "b1",
        "branch_kind": "joint",
        "branch_formed_on": date(2026, 1, 2),
        "branch_kept": False,
        "instructor_count": 4,
        "mass_organization_count": 5,
        "registered_at": registered,
        "deregistered_at": left,
        "updated_at": now,
    }
    assert set(row) == {c.name for c in organization_facts.columns}


def test_the_upserts_take_their_values_in_that_order() -> None:
    """SQLite's executemany gets the records positionally: the compiled statement must name the
    columns in `_UPSERT_COLUMNS` order (checked when it is built, raising otherwise)."""
    for name, table in (("facts", organization_facts), ("rollups", rollups)):
        _, names, _ = _driver_upsert(sqlite.dialect(), name)
        assert names == _UPSERT_COLUMNS[name]
        assert set(names) == {c.name for c in table.columns}
    assert _UPSERT_COLUMNS["rollups"][-1] == "updated_at"
