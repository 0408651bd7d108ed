"""`one_of` and `one_of_hashed`: a key list as one parameter, on both stores; on PostgreSQL
`one_of_hashed` keeps a lookup when the server reuses a generic plan of the prepared statement."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select, text

from libs.common.db import Database, one_of, one_of_hashed

metadata = MetaData()
#: No index on `code`: the planner scans the table, where `= ANY(array)` was a filter.
things = Table(
    "one_of_things",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("code", String(20), nullable=False),
)


async def filled(url: str, n: int) -> Database:
    db = Database(url, source="/pb/test")
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    async with db.engine.begin() as conn:
        await conn.execute(things.insert(), [{"id": i, "code": f"c{i}"} for i in range(n)])
    return db


@pytest.mark.parametrize("pick", [one_of, one_of_hashed])
@pytest.mark.parametrize(
    ("wanted", "found"),
    [
        ([], []),
        (["c3"], ["c3"]),
        (["c9", "c1", "c9", "nope"], ["c1", "c9"]),  # duplicates and unknown keys
        ([f"c{i}" for i in range(0, 300, 3)], [f"c{i}" for i in range(0, 300, 3)]),
    ],
)
async def test_it_picks_exactly_the_listed_rows(
    database_url: str, pick: Any, wanted: list[str], found: list[str]
) -> None:
    db = await filled(database_url, 300)
    try:
        async with db.read() as session:
            query = select(things.c.code).where(pick(session, things.c.code, wanted))
            got = (await session.execute(query)).scalars().all()
            ids = (
                (
                    await session.execute(
                        select(things.c.id).where(pick(session, things.c.id, [4, 2]))
                    )
                )
                .scalars()
                .all()
            )
        assert sorted(got) == sorted(found)
        assert sorted(ids) == [2, 4]
    finally:
        await db.dispose()


def _filters(plan: dict[str, Any]) -> Iterator[str]:
    for key in ("Filter", "Index Cond", "Hash Cond", "Join Filter"):
        if key in plan:
            yield str(plan[key])
    for child in plan.get("Plans", []):
        yield from _filters(child)


@pytest.mark.parametrize("store", ["postgresql"])
async def test_a_generic_plan_does_not_search_the_list_row_by_row(database_url: str) -> None:
    """asyncpg prepares every statement and PostgreSQL may switch a prepared statement to a
    generic plan after five runs. There `column = ANY($1)` filtering a scanned table searched the
    array linearly for every row (PostgreSQL hashes it only for a constant array): 85 ms for the
    coverage projection's links query of a 1,000-organisation batch that takes 2.5 ms planned
    with its values. `one_of_hashed` is a semi-join instead, a hash or an index lookup."""
    db = await filled(database_url, 5_000)
    try:
        async with db.read() as session:
            compiled = (
                select(things.c.id)
                .where(one_of_hashed(session, things.c.code, ["c1", "c2"]))
                .compile(dialect=(await session.connection()).dialect)
            )
            await session.execute(text("SET plan_cache_mode = force_generic_plan"))
            await session.execute(text(f"PREPARE one_of_things_q AS {compiled}"))
            listed = "{" + ",".join(f"c{i}" for i in range(1_000)) + "}"
            # a literal of our own: EXPLAIN EXECUTE takes no bound parameters
            explain = f"EXPLAIN (FORMAT JSON) EXECUTE one_of_things_q('{listed}')"
            (plan,) = (await session.execute(text(explain))).scalar_one()
        conditions = list(_filters(plan["Plan"]))
        assert conditions, plan
        assert not [c for c in conditions if "ANY" in c], json.dumps(plan, indent=1)
    finally:
        await db.dispose()
