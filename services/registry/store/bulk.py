"""Executemany of one statement with the rows as the driver takes them, for an import chunk's
UPDATEs and upserts (`insert_many` does the same for its INSERTs).

SQLAlchemy builds each row's parameters value by value (`construct_params` per row, then the
bind processors): for the organisations a chunk matched (their UPDATE, about 40 columns) and
their provenance's upsert that cost more than the database's own work. Here the statement is
compiled once per call and the rows go to the driver's executemany as tuples in the compiled
statement's parameter order (`Compiled.positiontup`, both drivers take positional parameters),
each column's bind processing applied as SQLAlchemy applies it (`driver_records`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from libs.common.db import driver_records


async def execute_many(
    session: AsyncSession, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Run `statement` once per row (each row naming every bound parameter) in the session's
    transaction."""
    if not rows:
        return
    connection = await session.connection()
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    assert compiled.positiontup is not None, f"not positional: {dialect.paramstyle}"
    names = list(compiled.positiontup)
    processors = [
        compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    await connection.exec_driver_sql(compiled.string, driver_records(rows, names, processors))
