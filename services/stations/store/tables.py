"""Tables of the stations service's store: stations, the operators learned from the registry,
and the audit trail."""

from sqlalchemy import (
    JSON,
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
)

from libs.common.audit import audit_table
from libs.common.tables import UTCDateTime

metadata = MetaData()

stations = Table(
    "stations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("address", String(300)),
    Column("latitude", Float(), nullable=False),  # WGS-84
    Column("longitude", Float(), nullable=False),
    Column("cell", Integer(), nullable=False),  # domain/cells.py
    Column("facilities", JSON(), nullable=False),
    Column("open_24h", Boolean(), nullable=False),
    Column("hours", JSON(), nullable=False),
    Column("operator_kind", String(32), nullable=False),
    Column("operator_id", String(36)),
    Column("has_sign", Boolean(), nullable=False),
    Column("has_space", Boolean(), nullable=False),
    Column("has_equipment", Boolean(), nullable=False),
    Column("opened_on", Date(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("closed_on", Date()),
    Column("close_reason", Text()),
    Column("version", Integer(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="One row per station (驿站), located in WGS-84 and in its grid cell.",
)
# The nearest search reads whole cells of open stations: one B-tree range per cell.
Index("ix_stations_cell_status", stations.c.cell, stations.c.status)
Index("ix_stations_region_code_id", stations.c.region_code, stations.c.id)

operators = Table(
    "operators",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(32), nullable=False),  # organization | mass_organization
    Column("name", String(200)),
    Column("region_code", String(12), nullable=False),
    Column("organization_id", String(36)),  # a mass organisation's organisation
    Column("mass_kind", String(32)),  # union | youth_league | womens_federation
    Column("active", Boolean(), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="Organisations and mass organisations learned from the registry's events.",
)

audit_log = audit_table(metadata)
