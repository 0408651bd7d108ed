"""The projection's bulk writes on PostgreSQL: rows known to be new go in with COPY, and a
batch's delta of a table of counters (the roll-ups, the new-employment day rows) is COPYed into
a temporary table and added in one statement.

An upsert handed to `executemany` is one execution per row on the server (its executor set up
each time, ON CONFLICT included) and one Bind/Execute per row on the wire; COPY is one
statement for the batch."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Column, ColumnElement, MetaData, Table, delete, select
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncConnection

from libs.common.db import copy_records
from services.coverage.domain.new_employment import DAY_MEASURES
from services.coverage.domain.rollups import COUNTERS
from services.coverage.store.tables import employment_days, rollups

#: The counters of each table whose deltas are added (its other columns take the delta's value).
SUMMED: dict[str, tuple[str, ...]] = {
    rollups.name: COUNTERS,
    employment_days.name: DAY_MEASURES,
}


def added(table: Table, new: Any) -> dict[str, ColumnElement[Any]]:
    """The SET of `table`'s additive upsert: each counter plus the delta's (`SUMMED`), its other
    columns (`updated_at`) the delta's (`new`: the upsert's `excluded`)."""
    summed = SUMMED[table.name]
    return {
        c.name: table.c[c.name] + new[c.name] if c.name in summed else new[c.name]
        for c in table.columns
        if not c.primary_key
    }


def rollup_sums(new: Any) -> dict[str, ColumnElement[Any]]:
    """The SET of the roll-ups' upsert (`added`)."""
    return added(rollups, new)


@cache
def _delta(table: Table) -> Table:
    """`table`'s delta: a temporary table like it, per connection, emptied at each commit."""
    return Table(
        f"{table.name}_delta",
        MetaData(),
        *[Column(c.name, c.type) for c in table.columns],
        prefixes=["TEMPORARY"],
    )


@cache
def _add_delta(table: Table) -> Any:
    names = [c.name for c in table.columns]
    statement = pg.insert(table).from_select(names, select(_delta(table)))
    return statement.on_conflict_do_update(
        index_elements=list(table.primary_key.columns), set_=added(table, statement.excluded)
    )


async def add_deltas(
    connection: AsyncConnection,
    table: Table,
    names: Sequence[str],
    records: list[tuple[Any, ...]],
    *,
    again: bool = False,
) -> None:
    """Add a delta of `table` (each record the values of `names`, its columns in table order,
    one per key): COPYed into the connection's temporary delta table, then added in one
    INSERT ... SELECT ... ON CONFLICT DO UPDATE. The commit empties the delta table; a caller
    that may add `again` in the same transaction has it emptied at once."""
    delta = _delta(table)
    await connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {delta.name} (LIKE {table.name}) "
        "ON COMMIT DELETE ROWS"
    )
    await copy_records(connection, delta, names, records)
    await connection.execute(_add_delta(table))
    if again:
        await connection.execute(delete(delta))


async def add_to_rollups(
    connection: AsyncConnection, names: Sequence[str], records: list[tuple[Any, ...]]
) -> None:
    """Add a batch's roll-up delta (`add_deltas`)."""
    await add_deltas(connection, rollups, names, records)
