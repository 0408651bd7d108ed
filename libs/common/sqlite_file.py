"""The file of a SQLite store, for a connection opened beside the store's engine (a checkpointer,
a snapshot reader, an import's reader process)."""

from __future__ import annotations

from sqlalchemy.engine import URL


def sqlite_file(url: URL) -> str | None:
    """The path of the store's SQLite file, which another connection opens as the same database;
    None for another store, an in-memory database, or a name in SQLite's URI form (`file:...`,
    or `?uri=true`), which a plain path does not open the same."""
    if url.get_backend_name() != "sqlite":
        return None
    path = url.database
    if not path or path == ":memory:" or path.startswith("file:") or url.query.get("uri"):
        return None
    return path
