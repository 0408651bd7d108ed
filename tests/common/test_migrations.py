"""Every service's migrations build exactly the tables its code declares, on both stores; the
databases the service fixtures start on are copies at head."""

from __future__ import annotations

import importlib
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from libs.common.db import Database
from libs.common.migrations import alembic_config, upgrade_to_head
from libs.common.service import ServiceDefinition
from libs.common.tables import platform_metadata
from tests.harness import ServiceDatabases

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
            declared: Any = [platform_metadata, definition.metadata]  # alembic takes a list too
            return list(compare_metadata(context, declared))

        def tables(connection: Connection) -> set[str]:
            return set(inspect(connection).get_table_names())

        async with db.engine.connect() as conn:
            differences = await conn.run_sync(diff)
            present = await conn.run_sync(tables)
        assert differences == []
        assert {"pb_outbox", "pb_inbox", "pb_dead_letters", "alembic_version"} <= present
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
