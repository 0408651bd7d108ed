"""The gap list's SQL on SQLite and PostgreSQL: its predicates say what the domain rules say,
and keyset pages follow the sort without gaps or repeats."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert

from libs.common.db import Database
from services.coverage.domain.facts import SCOPES, size_band
from services.coverage.domain.gaps import GapFilter, Metric, NextAction, Reason, gap_of, is_gap
from services.coverage.store.gaps import SORT_KEYS, GapRepository, to_facts
from services.coverage.store.tables import organization_facts

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def fact_row(n: int, region_code: str = "140212101001", **overrides: Any) -> dict[str, Any]:
    """An `organization_facts` row as the projection writes it."""
    row: dict[str, Any] = {
        "organization_id": f"org-{n:05d}",
        "version": 1,
        "credit_code": f"91140212{n:09d}X",
        "name": f"测试企业{n}",
        "region_code": region_code,
        "township_code": region_code[:9],
        "kind": "enterprise",
        "industry_code": "F5127",
        "staff_count": 12,
        "area_ids": "[]",
        "managed": True,
        "three_haves": True,
        "operating_status": "operating",
        "no_branch_reason": None,
        "full_members": 0,
        "probationary_members": 0,
        "ledger_complete": True,
        "latitude": None,
        "longitude": None,
        "branch_id": None,
        "branch_kind": None,
        "instructor_count": 0,
        "mass_organization_count": 0,
        "registered_at": NOW,
        "updated_at": NOW,
    }
    row.update(overrides)
    row["size_band"] = size_band(row["staff_count"])
    return row


async def insert_rows(db: Database, rows: list[dict[str, Any]]) -> None:
    async with db.unit_of_work() as uow:
        await uow.session.execute(insert(organization_facts), rows)


def grid() -> list[dict[str, Any]]:
    """Every combination of the facts the rules read, in and outside the region."""
    rows = []
    values = itertools.product(
        (0, 1, 2, 3, 4),  # full members
        (0, 1),  # probationary members
        (None, "joint", "temporary"),  # branch
        (0, 1),  # instructors
        (0, 1),  # mass organisations
        (True, False),  # ledger complete
        (True, False, None),  # three haves (None: unknown)
        (True, False),  # managed
        ("operating", "suspended", "closed", "revoked"),  # operating status
    )
    for n, (full, prob, branch, instr, mass, ledger, three, managed, status) in enumerate(values):
        rows.append(
            fact_row(
                n,
                "140212101001" if n % 7 else "140211001002",
                full_members=full,
                probationary_members=prob,
                branch_id=f"b-{branch}" if branch else None,
                branch_kind=branch,
                operating_status=status,
                instructor_count=instr,
                mass_organization_count=mass,
                ledger_complete=ledger,
                three_haves=three,
                managed=managed,
                staff_count=None if n % 5 == 0 else n % 400,
                industry_code=None if n % 11 == 0 else ("F5127", "I6513", "H6210")[n % 3],
                name=f"企业{(n * 37) % 101:03d}",
            )
        )
    return rows


async def test_sql_filters_agree_with_the_domain_rules(db: Database) -> None:
    rows = grid()
    await insert_rows(db, rows)
    everything = [to_facts(_Row(r)) for r in rows]
    async with db.read() as session:
        repository = GapRepository(session)
        for metric, scope in itertools.product(Metric, SCOPES):
            expected_gaps = [
                f
                for f in everything
                if f.region_code.startswith("140212") and is_gap(f, metric, scope)
            ]
            base = GapFilter("140212", metric, scope, 3)
            assert await repository.count(base) == len(expected_gaps)
            for reason in Reason:
                selection = GapFilter("140212", metric, scope, 3, reason=reason)
                expected = {
                    f.organization_id
                    for f in expected_gaps
                    if reason in gap_of(f, metric, 3).reasons
                }
                got = await repository.page(selection, sort="region_code", after=None, limit=1000)
                assert {r.facts.organization_id for r in got} == expected, (metric, scope, reason)
            for action in NextAction:
                selection = GapFilter("140212", metric, scope, 3, next_action=action)
                expected = {
                    f.organization_id
                    for f in expected_gaps
                    if action in gap_of(f, metric, 3).next_actions
                }
                got = await repository.page(selection, sort="region_code", after=None, limit=1000)
                assert {r.facts.organization_id for r in got} == expected, (metric, scope, action)


@pytest.mark.parametrize("sort", [*SORT_KEYS, *(f"-{k}" for k in SORT_KEYS)])
async def test_keyset_pages_follow_the_sort(db: Database, sort: str) -> None:
    rows = grid()
    await insert_rows(db, rows)
    selection = GapFilter("14", Metric.WORK, "all_managed", 3)
    async with db.read() as session:
        repository = GapRepository(session)
        pages = [rows async for rows in repository.chunks(selection, sort=sort, size=37)]
    seen = [r.facts.organization_id for page in pages for r in page]
    assert len(seen) == len(set(seen)) == await _count(db, selection)
    key = sort.removeprefix("-")

    def sort_value(r: dict[str, Any]) -> Any:
        value = r[key]
        if value is None:
            return -1 if key == "staff_count" else ""
        return value

    gaps = [r for r in rows if is_gap(to_facts(_Row(r)), Metric.WORK, "all_managed")]
    expected = sorted(
        gaps, key=lambda r: (sort_value(r), r["organization_id"]), reverse=sort.startswith("-")
    )
    assert seen == [r["organization_id"] for r in expected]


async def test_region_industry_area_and_township_filters(db: Database) -> None:
    await insert_rows(
        db,
        [
            fact_row(1, full_members=1, industry_code="I6513", area_ids=json.dumps(["park-1"])),
            fact_row(2, full_members=1, industry_code="I6421", area_ids='["park-10"]'),
            fact_row(3, "140212102003", full_members=2, industry_code="F5127"),
            fact_row(4, "140213001001", full_members=2, industry_code="I6513"),
            fact_row(5, "1402", full_members=2),  # a code at city level: not in the county
        ],
    )

    async def ids(**kw: Any) -> list[str]:
        selection = GapFilter(
            kw.pop("region", "140212"), Metric.ORGANIZATION, "with_members", 3, **kw
        )
        async with db.read() as session:
            page = await GapRepository(session).page(
                selection, sort="region_code", after=None, limit=100
            )
        return [r.facts.organization_id[-1] for r in page]

    assert await ids() == ["1", "2", "3"]
    assert await ids(region="1402") == ["5", "1", "2", "3", "4"]
    assert await ids(region="140212102") == ["3"]
    assert await ids(industry="I") == ["1", "2"]
    assert await ids(industry="I65") == ["1"]
    assert await ids(area_id="park-1") == ["1"]
    assert await ids(township="140212102") == ["3"]
    assert await ids(industry="%") == []


async def _count(db: Database, selection: GapFilter) -> int:
    async with db.read() as session:
        return await GapRepository(session).count(selection)


class _Row:
    """A dict seen as a result row (attribute access), for `to_facts`."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
        self.__dict__.setdefault("branch_formed_on", None)
