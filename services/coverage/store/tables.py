"""Tables of the coverage service's store: its own projection of what the registry announced."""

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
    text,
    true,
)

from libs.common.tables import UTCDateTime

metadata = MetaData()

organization_facts = Table(
    "organization_facts",
    metadata,
    Column("organization_id", String(36), primary_key=True),
    Column("version", Integer(), nullable=False, server_default=text("0")),
    Column("credit_code", String(18), nullable=False, server_default=""),
    Column("name", String(200), nullable=False, server_default=""),
    Column("region_code", String(12), nullable=False),
    Column("township_code", String(9), nullable=False, server_default=""),
    Column("kind", String(32), nullable=False),
    Column("industry_code", String(8)),
    Column("staff_count", Integer()),
    Column("size_band", String(16), nullable=False, server_default="unknown"),
    Column("area_ids", Text(), nullable=False, server_default="[]"),
    Column("managed", Boolean(), nullable=False, server_default=true()),
    Column("three_haves", Boolean(), nullable=False, server_default=false()),
    Column("full_members", Integer(), nullable=False, server_default=text("0")),
    Column("probationary_members", Integer(), nullable=False, server_default=text("0")),
    Column("ledger_complete", Boolean(), nullable=False, server_default=false()),
    Column("latitude", Float()),
    Column("longitude", Float()),
    Column("branch_id", String(36)),
    Column("branch_kind", String(16)),
    Column("branch_formed_on", Date()),
    Column("instructor_count", Integer(), nullable=False, server_default=text("0")),
    Column("mass_organization_count", Integer(), nullable=False, server_default=text("0")),
    Column("registered_at", UTCDateTime(), nullable=False),
    Column("deregistered_at", UTCDateTime()),
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="Per organisation, the coverage facts learnt from registry events.",
)
Index("ix_organization_facts_region_code", organization_facts.c.region_code)
Index("ix_organization_facts_township_code", organization_facts.c.township_code)
