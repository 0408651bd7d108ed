"""Every service's migrations build exactly the tables its code declares, on both stores; the
databases the service fixtures start on are copies at head."""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from libs.common.db import Database
from libs.common.migrations import (
    MIGRATION_LOCK_KEY,
    alembic_config,
    schema_status,
    upgrade_to_head,
)
from libs.common.service import Runtime, ServiceDefinition
from libs.common.settings import ServiceSettings
from libs.common.tables import platform_metadata
from libs.common.webhooks.tables import webhook_metadata
from tests.harness import POSTGRESQL_ONLY, ServiceDatabases, wait_for

REPO = Path(__file__).resolve().parents[2]

SERVICES = ["registry", "coverage", "stations", "training"]


def _definition(name: str) -> ServiceDefinition:
    module = importlib.import_module(f"services.{name}.app")
    definition: ServiceDefinition = module.definition()
    return definition


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_match_the_declared_tables(service: str, database_url: str) -> None:
    definition = _definition(service)
    db = Database(database_url, source=f"/pb/{service}")
    try:
        await upgrade_to_head(db, definition.migrations)
        await upgrade_to_head(db, definition.migrations)  # a second run changes nothing

        def diff(connection: Connection) -> list[Any]:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            # alembic takes a list too
            declared: Any = [platform_metadata, webhook_metadata, definition.metadata]
            return list(compare_metadata(context, declared))

        def tables(connection: Connection) -> set[str]:
            return set(inspect(connection).get_table_names())

        async with db.engine.connect() as conn:
            differences = await conn.run_sync(diff)
            present = await conn.run_sync(tables)
        assert differences == []
        assert {"pb_outbox", "pb_inbox", "pb_dead_letters", "alembic_version"} <= present
        assert {"pb_webhook_subscriptions", "pb_webhook_failures"} <= present
    finally:
        await db.dispose()


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_database_is_a_copy_of_its_template_at_head(
    service: str, service_databases: ServiceDatabases, tmp_path: Path
) -> None:
    """What the service fixtures start on: the service's own tables at the newest revision, in
    a database of the test's own (a write there leaves the template as it was)."""
    definition = _definition(service)
    url = await service_databases.url(service)
    assert await service_databases.url(service) == url  # one database per service and test
    head = ScriptDirectory.from_config(
        alembic_config(definition.migrations, url)
    ).get_current_head()
    db = Database(url, source=f"/pb/{service}")
    try:
        async with db.engine.begin() as conn:
            revision = await conn.run_sync(
                lambda c: MigrationContext.configure(c).get_current_revision()
            )
            await conn.execute(text("DELETE FROM alembic_version"))
    finally:
        await db.dispose()
    assert revision == head

    async with AsyncExitStack() as stack:
        (tmp_path / "another").mkdir()
        another = ServiceDatabases(service_databases.store, tmp_path / "another", stack)
        copy = Database(await another.url(service), source=f"/pb/{service}")
        try:
            async with copy.engine.connect() as conn:
                again = await conn.run_sync(
                    lambda c: MigrationContext.configure(c).get_current_revision()
                )
        finally:
            await copy.dispose()
    assert again == head


def _migrate_process(service: str, url: str) -> subprocess.Popen[str]:
    """`python -m services.<service> migrate`, the command of the service's migrate Job."""
    env = {**os.environ, f"PB_{service.upper()}_DATABASE_URL": url}
    return subprocess.Popen(
        [sys.executable, "-m", f"services.{service}", "migrate"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@POSTGRESQL_ONLY
async def test_the_registrys_bulk_bytes_are_compressed_with_lz4_and_back(database_url: str) -> None:
    """Revision 0014 sets lz4 on the outbox's data and an import's stored rows (PostgreSQL 14+
    built with lz4, as the servers here are), and its downgrade sets the default back."""
    definition = _definition("registry")
    db = Database(database_url, source="/pb/registry")
    config = alembic_config(definition.migrations, database_url)
    query = text(
        "SELECT attrelid::regclass::text, attcompression::text FROM pg_attribute "
        "WHERE attname = 'data' AND attrelid IN ('pb_outbox'::regclass, "
        "'import_file_chunks'::regclass) ORDER BY 1"
    )

    async def compression() -> list[tuple[str, str]]:
        async with db.engine.connect() as conn:
            return [(str(t), str(c)) for t, c in (await conn.execute(query)).all()]

    try:
        await upgrade_to_head(db, definition.migrations)
        assert await compression() == [("import_file_chunks", "l"), ("pb_outbox", "l")]
        await asyncio.to_thread(command.downgrade, config, "0013")
        assert await compression() == [("import_file_chunks", ""), ("pb_outbox", "")]
    finally:
        await db.dispose()


@POSTGRESQL_ONLY
async def test_two_migrate_runs_at_once_wait_for_each_other(database_url: str) -> None:
    """Two `migrate` commands on one fresh database (a Job retried while its first pod still
    runs, a pod migrating on start): the second waits on the advisory lock, both succeed, and
    the schema is at head once. Held here by the test first, so that both are seen waiting."""
    service = "registry"
    definition = _definition(service)
    head = ScriptDirectory(str(definition.migrations)).get_current_head()
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    holder = await asyncpg.connect(dsn)
    observer = await asyncpg.connect(dsn)
    runs: list[subprocess.Popen[str]] = []
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        runs = [_migrate_process(service, database_url) for _ in range(2)]

        async def both_waiting() -> bool:
            assert all(run.poll() is None for run in runs), [r.communicate() for r in runs]
            # Advisory locks are per database: count this one's (other tests migrate beside).
            waiting = await observer.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND objid = $1 AND database = (SELECT oid FROM pg_database"
                " WHERE datname = current_database())",
                MIGRATION_LOCK_KEY,
            )
            return bool(waiting == 2)

        await wait_for(both_waiting, timeout=30)
        tables = await observer.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        assert tables == 0, "nothing is migrated while the lock is held"
        await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        outputs = [await asyncio.to_thread(run.communicate, timeout=60) for run in runs]
        for run, (out, _) in zip(runs, outputs, strict=True):
            assert run.returncode == 0, out
            assert "store is at the newest migration" in out
        versions = await observer.fetch("SELECT version_num FROM alembic_version")
        assert [row["version_num"] for row in versions] == [head]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
        await holder.close()
        await observer.close()

    db = Database(database_url, source=f"/pb/{service}")
    try:
        assert await schema_status(db, definition.migrations) == "ok"
    finally:
        await db.dispose()


async def test_readiness_waits_for_the_schema(database_url: str) -> None:
    """A service started with MIGRATE_ON_START=false (Kubernetes: its migrate Job does it) is
    not ready on an empty or older store, and ready once the store is at head, or ahead of it
    (a newer release migrated it while this one still runs)."""
    service = "training"
    definition = _definition(service)
    settings = definition.settings.model_copy(
        update={"database_url": database_url, "migrate_on_start": False}
    )
    runtime = Runtime(_definition_with(service, settings), None)
    scripts = ScriptDirectory(str(definition.migrations))
    head = scripts.get_current_head()
    assert head is not None
    previous = scripts.get_revision(head).down_revision
    assert isinstance(previous, str)
    try:
        checks = await runtime.readiness()
        assert checks["store"] == "ok"
        assert checks["schema"].startswith("no schema"), checks

        config = alembic_config(definition.migrations, database_url)

        def upgrade_to(revision: str) -> Callable[[Connection], None]:
            def run(connection: Connection) -> None:
                config.attributes["connection"] = connection
                command.upgrade(config, revision)

            return run

        async with runtime.db.engine.begin() as conn:
            await conn.run_sync(upgrade_to(previous))
        checks = await runtime.readiness()
        assert checks["schema"] == f"behind: at {previous}, head {head}", checks

        await upgrade_to_head(runtime.db, definition.migrations)
        assert (await runtime.readiness())["schema"] == "ok"

        async with runtime.db.engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = 'f00d_newer'"))
        assert (await runtime.readiness())["schema"] == "ok"
    finally:
        await runtime.db.dispose()


def _definition_with(service: str, settings: ServiceSettings) -> ServiceDefinition:
    module = importlib.import_module(f"services.{service}.app")
    definition: ServiceDefinition = module.definition(settings)
    return definition
