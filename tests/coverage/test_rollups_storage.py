"""How the roll-ups are stored on PostgreSQL: their pages keep room for their rows' next versions
(migration 0011), so that the projection's updates of the same counters, batch after batch, stay
heap-only tuples (no new entry in the five-column primary key)."""

from __future__ import annotations

from sqlalchemy import text

from libs.common.db import Database
from tests.harness import POSTGRESQL_ONLY, ServiceDatabases

pytestmark = POSTGRESQL_ONLY


async def test_the_rollups_pages_keep_room_for_updates(service_databases: ServiceDatabases) -> None:
    db = Database(await service_databases.url("coverage"), source="/pb/test")
    try:
        async with db.read() as session:
            options = (
                await session.execute(
                    text("SELECT reloptions FROM pg_class WHERE relname = 'coverage_rollups'")
                )
            ).scalar_one()
        assert options == ["fillfactor=70"]
    finally:
        await db.dispose()
