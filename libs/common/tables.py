"""The platform's own tables, present in every service's store: outbox, inbox, dead letters
(and, in the stores that need it, the ordered consumers' positions)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.types import DateTime, TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """On SQLite the stored text ('2026-12-01 08:13:07.187681', UTC) read as an aware
        datetime in one step: the generic path (parse, then `replace(tzinfo=UTC)`, slow with a
        keyword in Python 3.11) cost ~1.3 µs a value, two values a row of most tables. Text in
        another form goes the generic way."""
        generic = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or generic is None:
            return generic

        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            if value.__class__ is str and len(value) in _SQLITE_STORED_LENGTHS:
                try:
                    return datetime.fromisoformat(value + "+00:00")
                except ValueError:
                    pass  # not the stored form after all
            result: datetime | None = generic(value)
            return result

        return process


#: The lengths of SQLAlchemy's SQLite storage of a datetime, with and without microseconds
#: ('2026-12-01 08:13:07.187681', '2026-12-01 08:13:07'): only such text takes the fast path.
_SQLITE_STORED_LENGTHS = frozenset({19, 26})


def utcnow() -> datetime:
    return datetime.now(UTC)


#: SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")

platform_metadata = MetaData()

outbox = Table(
    "pb_outbox",
    platform_metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("type", String(200), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("source", String(200), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("data", LargeBinary(), nullable=False),
    Column("traceparent", String(64)),
    Column("tracestate", String(512)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    Column("attempts", Integer(), nullable=False, server_default=text("0")),
    Column("last_error", Text()),
    comment="Events recorded with the state change; the relay publishes and marks them sent.",
)
# The relay reads only what is unsent, in order: a partial index keeps that cheap at any size.
Index(
    "ix_pb_outbox_unsent",
    outbox.c.seq,
    postgresql_where=outbox.c.sent_at.is_(None),
    sqlite_where=outbox.c.sent_at.is_(None),
)
Index("ix_pb_outbox_created_at", outbox.c.created_at)

inbox = Table(
    "pb_inbox",
    platform_metadata,
    Column("consumer", String(100), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("event_type", String(200), nullable=False),
    Column("processed_at", UTCDateTime(), nullable=False),
    comment="Event ids each consumer has applied, written in the same transaction as the effect.",
)
Index("ix_pb_inbox_processed_at", inbox.c.processed_at)

#: Not in `platform_metadata`: only a store with a consumer deduplicated by stream sequence
#: (`ConsumerSpec(dedupe="sequence")`) holds it; such a service adds it to its own metadata
#: (`consumer_positions.to_metadata(metadata)`) and creates it in a migration of its own.
position_metadata = MetaData()

consumer_positions = Table(
    "pb_consumer_positions",
    position_metadata,
    Column("consumer", String(100), primary_key=True),
    Column("stream", String(100), nullable=False),
    Column("last_sequence", BigInteger(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="The last stream sequence each ordered consumer applied, written in the same "
    "transaction as the effect: what is at or below it is a redelivery.",
)

dead_letters = Table(
    "pb_dead_letters",
    platform_metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("consumer", String(100), nullable=False),
    Column("event_id", String(64)),
    Column("event_type", String(200)),
    Column("nats_subject", String(300), nullable=False),
    Column("stream_sequence", BigInteger()),
    Column("headers", Text(), nullable=False),
    Column("data", LargeBinary(), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("deliveries", Integer(), nullable=False),
    Column("failed_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime()),
    # Added in revision 2 of the platform tables (`libs.common.migrations`): the last re-drive.
    Column("redriven_at", UTCDateTime()),
    Column("redrive_outcome", String(20)),
    Column("redrives", Integer(), nullable=False, server_default=text("0")),
    comment="Messages a consumer gave up on, with the reason; kept for an operator to inspect "
    "and re-drive.",
)
Index("ix_pb_dead_letters_consumer", dead_letters.c.consumer, dead_letters.c.failed_at)
