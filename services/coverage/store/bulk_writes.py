"""The projection's bulk writes on PostgreSQL: rows known to be new go in with COPY, and a
batch's roll-up delta is COPYed into a temporary table and added in one statement.

An upsert handed to `executemany` is one execution per row on the server (its executor set up
each time, ON CONFLICT included) and one Bind/Execute per row on the wire; COPY is one
statement for the batch."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Column, ColumnElement, MetaData, Table, select
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncConnection

from libs.common.db import copy_records
from services.coverage.domain.rollups import COUNTERS
from services.coverage.store.tables import rollups

#: A batch's roll-up delta (the roll-ups' columns), per connection, emptied at each commit.
rollups_delta = Table(
    "coverage_rollups_delta",
    MetaData(),
    *[Column(c.name, c.type) for c in rollups.columns],
    prefixes=["TEMPORARY"],
)
_CREATE_DELTA = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {rollups_delta.name} "
    f"(LIKE {rollups.name}) ON COMMIT DELETE ROWS"
)


def rollup_sums(new: Any) -> dict[str, ColumnElement[Any]]:
    """The SET of the roll-ups' upsert: each counter plus the delta's, `updated_at` the
    delta's (`new`: the upsert's `excluded`)."""
    return {**{c: rollups.c[c] + new[c] for c in COUNTERS}, "updated_at": new.updated_at}


@cache
def _add_delta() -> Any:
    names = [c.name for c in rollups.columns]
    statement = pg.insert(rollups).from_select(names, select(rollups_delta))
    return statement.on_conflict_do_update(
        index_elements=list(rollups.primary_key.columns), set_=rollup_sums(statement.excluded)
    )


async def add_to_rollups(
    connection: AsyncConnection, names: Sequence[str], records: list[tuple[Any, ...]]
) -> None:
    """Add a batch's roll-up delta (each record the values of `names`, the roll-ups' columns in
    table order): COPYed into the connection's temporary `rollups_delta`, then added to the
    roll-ups in one INSERT ... SELECT ... ON CONFLICT DO UPDATE."""
    await connection.exec_driver_sql(_CREATE_DELTA)
    await copy_records(connection, rollups_delta, names, records)
    await connection.execute(_add_delta())
