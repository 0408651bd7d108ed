"""Every service's migrations build exactly the tables its code declares, on both stores."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from libs.common.db import Database
from libs.common.migrations import upgrade_to_head
from libs.common.service import ServiceDefinition
from libs.common.tables import platform_metadata

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
