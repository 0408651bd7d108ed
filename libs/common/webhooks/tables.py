"""The webhook tables, present in every service's store beside the platform's own (created by
`libs.common.migrations.create_webhook_tables_v1` in a revision of each service)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, Text

from libs.common.tables import BigIntPK, UTCDateTime

webhook_metadata = MetaData()

webhook_subscriptions = Table(
    "pb_webhook_subscriptions",
    webhook_metadata,
    Column("id", String(36), primary_key=True),
    Column("event_types", Text(), nullable=False),  # a JSON list
    Column("region_code", String(12)),
    Column("url", String(2000), nullable=False),
    Column("secret", Text(), nullable=False),  # sealed (libs.common.webhooks.signing)
    Column("active", Boolean(), nullable=False),
    Column("payload", String(50), nullable=False, server_default="event"),
    Column("start_at", UTCDateTime(), nullable=False),
    Column("generation", Integer(), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="Webhook subscriptions to this service's events; the secret is sealed.",
)

webhook_failures = Table(
    "pb_webhook_failures",
    webhook_metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("subscription_id", String(36), nullable=False),
    Column("event_id", String(64)),
    Column("event_type", String(200)),
    Column("subject", String(200)),
    Column("stream_sequence", BigInteger()),
    Column("attempts", Integer(), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("failed_at", UTCDateTime(), nullable=False),
    comment="Webhook deliveries given up on after the last attempt, per subscription.",
)
Index(
    "ix_pb_webhook_failures_subscription", webhook_failures.c.subscription_id, webhook_failures.c.id
)
