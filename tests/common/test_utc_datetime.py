"""`UTCDateTime` reads SQLite's stored text the quick way exactly as the generic way reads it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeDecorator

from libs.common.tables import UTCDateTime


def generic(value: str) -> datetime | None:
    """What the column read before its SQLite shortcut: the dialect's parse, then UTC."""
    dialect = sqlite.dialect()
    adapted: Any = UTCDateTime().dialect_impl(dialect)
    parse = TypeDecorator.result_processor(adapted, dialect, None)
    assert parse is not None
    result: datetime | None = parse(value)
    return result


@pytest.mark.parametrize(
    "stored",
    [
        "2026-12-01 08:13:07.187681",  # as SQLAlchemy stores it
        "2026-12-01 08:13:07.000000",
        "2026-12-01 08:13:07",  # CURRENT_TIMESTAMP's form
        "2026-12-01T08:13:07.187681",  # other forms go the generic way
        "2026-12-01 08:13:07.1876",
        "2026-12-01",
    ],
)
def test_stored_text_reads_as_the_generic_path_reads_it(stored: str) -> None:
    read = UTCDateTime()._cached_result_processor(sqlite.dialect(), None)
    assert read is not None
    got = read(stored)
    assert got == generic(stored)
    assert isinstance(got, datetime)
    assert got.tzinfo is UTC
    assert read(None) is None


def test_postgresql_keeps_the_generic_path() -> None:
    dialect = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]
    read = UTCDateTime()._cached_result_processor(dialect, None)
    at = datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert read is None or read(at) == at
