"""Tables of the coverage service's store: its own projection of what the registry announced."""

from sqlalchemy import Column, Index, Integer, MetaData, String, Table

from libs.common.tables import UTCDateTime

metadata = MetaData()

organization_facts = Table(
    "organization_facts",
    metadata,
    Column("organization_id", String(36), primary_key=True),
    Column("region_code", String(12), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("industry_code", String(8)),
    Column("staff_count", Integer()),
    Column("registered_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="Per organisation, the coverage facts learnt from registry events.",
)
Index("ix_organization_facts_region_code", organization_facts.c.region_code)
