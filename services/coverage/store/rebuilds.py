"""SQL for the progress of a rebuild from a stream (so an interrupted one can resume)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text, update

from libs.common.db import Repository, upsert_many
from libs.common.tables import consumer_positions, utcnow
from services.coverage.store.tables import rebuilds


@dataclass(frozen=True)
class RebuildProgress:
    stream: str
    last_sequence: int
    end_sequence: int
    started_at: datetime
    finished_at: datetime | None


#: SQLite's page cache for a rebuild's connection, in KiB (its default is 2 MiB): the facts'
#: indexes of a province outgrow the default, and each batch's upserts then re-read their pages.
REBUILD_CACHE_KIB = 65_536


class RebuildRepository(Repository):
    async def for_bulk_writes(self) -> None:
        """Settings of this connection for a rebuild's big transactions (SQLite: a larger page
        cache; durability is left as it is, the tables being live)."""
        bind = self.session.bind
        if bind is not None and bind.dialect.name == "sqlite":
            await self.session.execute(text(f"PRAGMA cache_size=-{REBUILD_CACHE_KIB}"))

    async def progress(self, stream: str) -> RebuildProgress | None:
        row = (
            await self.session.execute(select(rebuilds).where(rebuilds.c.stream == stream))
        ).first()
        if row is None:
            return None
        return RebuildProgress(
            row.stream, row.last_sequence, row.end_sequence, row.started_at, row.finished_at
        )

    async def start(self, stream: str, end_sequence: int) -> None:
        await upsert_many(
            self.session,
            rebuilds,
            [
                {
                    "stream": stream,
                    "last_sequence": 0,
                    "end_sequence": end_sequence,
                    "started_at": utcnow(),
                    "finished_at": None,
                }
            ],
            key="stream",
        )

    async def advance(self, stream: str, last_sequence: int, *, finished: bool = False) -> None:
        await self.session.execute(
            update(rebuilds)
            .where(rebuilds.c.stream == stream)
            .values(last_sequence=last_sequence, finished_at=utcnow() if finished else None)
        )

    async def advance_consumer(self, consumer: str, stream: str, sequence: int) -> None:
        """Move a sequence-deduplicated consumer's position to `sequence` unless it is past it."""
        stored = (
            await self.session.execute(
                select(consumer_positions.c.last_sequence).where(
                    consumer_positions.c.consumer == consumer
                )
            )
        ).scalar_one_or_none()
        if stored is not None and stored >= sequence:
            return
        await upsert_many(
            self.session,
            consumer_positions,
            [
                {
                    "consumer": consumer,
                    "stream": stream,
                    "last_sequence": sequence,
                    "updated_at": utcnow(),
                }
            ],
            key="consumer",
        )
