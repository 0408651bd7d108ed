"""SQL conditions for "within a region's subtree", written as index-friendly ranges."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_


def subtree_upper_bound(prefix: str) -> str | None:
    """The smallest string above every code that starts with `prefix` (None for no prefix)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else None


def within_region(column: Any, prefix: str) -> ColumnElement[bool]:
    """`column` (a canonical division code) is `prefix` or lies below it.

    A range `prefix <= code < next(prefix)` rather than `LIKE 'prefix%'`, so a B-tree index on the
    column serves it on SQLite and PostgreSQL alike (whatever the collation)."""
    upper = subtree_upper_bound(prefix)
    if upper is None:
        condition: ColumnElement[bool] = column.is_not(None)
        return condition
    return and_(column >= prefix, column < upper)
