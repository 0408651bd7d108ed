"""Tables of the registry service's store."""

from sqlalchemy import Column, Index, Integer, MetaData, String, Table

from libs.common.tables import UTCDateTime

metadata = MetaData()

organizations = Table(
    "organizations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("credit_code", String(18), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("industry_code", String(8)),
    Column("staff_count", Integer()),
    Column("version", Integer(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="One row per organisation in the ledger (一企一档).",
)
Index("ix_organizations_region_code", organizations.c.region_code)
