"""Alembic, driven from code: each service keeps its own migrations and runs them to head.

In Kubernetes the migrations run once per release, in the service's `<name>-migrate` Job, and the
pods only wait for the schema (`schema_status` in their readiness). Two runners never race: on
PostgreSQL the upgrade holds a transaction-scoped advisory lock (`pg_advisory_xact_lock`), so a
second runner waits for the first to commit and then finds the store at head. SQLite takes no
lock of its own: it is the store of one process (`make run`, tests), never shared by replicas.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from alembic import command, context, op
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config

from libs.common.db import Database
from libs.common.tables import platform_metadata
from libs.common.webhooks.tables import webhook_metadata

#: Advisory lock held while migrating (any constant; one database per service).
MIGRATION_LOCK_KEY = 7_221_001


def alembic_config(script_location: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade_to_head(db: Database, script_location: Path) -> None:
    """Bring the store to the newest revision, on the service's own engine."""
    config = alembic_config(script_location, db.url)

    def upgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two runners (a Job retried, a pod migrating on start) must not migrate the same
            # database at once: the second waits here until the first commits, then reads the
            # version it left. Released with the transaction, even when the runner dies.
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        await connection.run_sync(upgrade)


@functools.cache
def _heads(script_location: Path) -> tuple[frozenset[str], frozenset[str]]:
    """(head revisions, every revision) of a service's migrations; read once per process."""
    scripts = ScriptDirectory(str(script_location))
    known = frozenset(r.revision for r in scripts.walk_revisions())
    return frozenset(scripts.get_heads()), known


async def schema_status(db: Database, script_location: Path) -> str:
    """`ok` when the store holds this code's head revision, or a revision this code does not
    know (a newer release has already migrated it; migrations stay backward compatible);
    otherwise why the service must not take traffic yet."""
    heads, known = _heads(script_location)
    try:
        async with db.engine.connect() as connection:
            current: set[str] = await connection.run_sync(
                lambda c: set(MigrationContext.configure(c).get_current_heads())
            )
    except Exception as exc:  # noqa: BLE001 - reported by the readiness check, not raised
        return f"failing: {type(exc).__name__}"
    if heads <= current or current - known:
        return "ok"
    if not current:
        return "no schema: the migrate Job has not run"
    return f"behind: at {', '.join(sorted(current))}, head {', '.join(sorted(heads))}"


def run_env(service_metadata: MetaData) -> None:
    """The body of every service's `env.py`: online migrations on a given or new connection."""
    target = [platform_metadata, webhook_metadata, service_metadata]
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is not None:
        _migrate(connection, target)
        return

    import asyncio

    async def run_async() -> None:
        engine = async_engine_from_config(
            context.config.get_section(context.config.config_ini_section, {}),
            prefix="sqlalchemy.",
            poolclass=pool.NullPool,
        )
        async with engine.begin() as conn:
            await conn.run_sync(_migrate, target)
        await engine.dispose()

    asyncio.run(run_async())


def _migrate(connection: Connection, target: list[MetaData]) -> None:
    context.configure(
        connection=connection,
        target_metadata=target,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


#: Platform columns added after revision 1, by table: revision 1 creates the tables without them
#: (a store migrated from scratch then meets the same revisions as one that already exists).
LATER_COLUMNS: dict[str, frozenset[str]] = {
    "pb_dead_letters": frozenset({"redriven_at", "redrive_outcome", "redrives"}),
}


def create_platform_tables_v1() -> None:
    """Revision 1 of the outbox, inbox and dead-letter tables, shared by every service's first
    migration. A later change to them gets a `_v2` function and a new revision in each service
    (and its columns in `LATER_COLUMNS`)."""
    _create_tables(platform_metadata)


def _create_tables(metadata: MetaData) -> None:
    for table in metadata.sorted_tables:
        later = LATER_COLUMNS.get(table.name, frozenset())
        columns: list[Any] = [c._copy() for c in table.columns if c.name not in later]
        op.create_table(table.name, *columns, comment=table.comment)
        for index in table.indexes:
            op.create_index(
                index.name or "",
                table.name,
                [c.name for c in index.columns],
                unique=bool(index.unique),
                **{k: v for k, v in index.dialect_kwargs.items() if k.endswith("_where")},
            )


def drop_platform_tables_v1() -> None:
    for table in reversed(platform_metadata.sorted_tables):
        op.drop_table(table.name)


def create_webhook_tables_v1() -> None:
    """Revision 1 of the webhook subscription and failure tables (`libs.common.webhooks`), in a
    revision of every service."""
    _create_tables(webhook_metadata)


def drop_webhook_tables_v1() -> None:
    for table in reversed(webhook_metadata.sorted_tables):
        op.drop_table(table.name)


def add_dead_letter_redrive_v2() -> None:
    """Revision 2 of the platform tables: the dead letters' last re-drive (when, its outcome,
    how many), for `libs.common.dead_letters`."""
    table = platform_metadata.tables["pb_dead_letters"]
    for name in sorted(LATER_COLUMNS["pb_dead_letters"]):
        op.add_column(table.name, table.c[name]._copy())


def drop_dead_letter_redrive_v2() -> None:
    with op.batch_alter_table("pb_dead_letters") as batch:
        for name in sorted(LATER_COLUMNS["pb_dead_letters"]):
            batch.drop_column(name)


def prefer_lz4(table: str, column: str) -> None:
    """On PostgreSQL 14 or later built with lz4, compress the column's large values (over about
    2 KB) with lz4 rather than the default pglz; elsewhere nothing. For columns of large text
    written in bulk (an import's `organization.imported` events, its stored rows): pglz cost the
    registry's import a tenth of its commits (outbox writes 0.7 → 0.5 s for 100,000 rows)."""
    if _column_compression_settable():
        op.execute(
            f"DO $$ BEGIN ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4; "
            f"EXCEPTION WHEN feature_not_supported THEN "
            f"RAISE NOTICE '{table}.{column} keeps pglz: the server has no lz4'; END $$"
        )


def default_compression(table: str, column: str) -> None:
    """`prefer_lz4` undone (the values written meanwhile stay as they were written)."""
    if _column_compression_settable():
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION default")


def _column_compression_settable() -> bool:
    """Whether the store takes a column's compression method (PostgreSQL 14 or later)."""
    bind = op.get_bind()
    version = bind.dialect.server_version_info or (0,)
    return bind.dialect.name == "postgresql" and version >= (14,)
