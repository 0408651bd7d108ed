"""Stations, operators learned from the registry, the audit trail.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.tables import BigIntPK, UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("address", sa.String(300)),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("cell", sa.Integer(), nullable=False),
        sa.Column("facilities", sa.JSON(), nullable=False),
        sa.Column("open_24h", sa.Boolean(), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("operator_kind", sa.String(32), nullable=False),
        sa.Column("operator_id", sa.String(36)),
        sa.Column("has_sign", sa.Boolean(), nullable=False),
        sa.Column("has_space", sa.Boolean(), nullable=False),
        sa.Column("has_equipment", sa.Boolean(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("closed_on", sa.Date()),
        sa.Column("close_reason", sa.Text()),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        comment="One row per station (驿站), located in WGS-84 and in its grid cell.",
    )
    op.create_index("ix_stations_cell_status", "stations", ["cell", "status"])
    op.create_index("ix_stations_region_code_id", "stations", ["region_code", "id"])
    op.create_table(
        "operators",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("organization_id", sa.String(36)),
        sa.Column("mass_kind", sa.String(32)),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        comment="Organisations and mass organisations learned from the registry's events.",
    )
    op.create_table(
        "audit_log",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_region", sa.String(12), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("entity_type", sa.String(50), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        comment="Who changed what and when: one row per write.",
    )
    op.create_index("ix_audit_log_region_code_id", "audit_log", ["region_code", "id"])
    op.create_index("ix_audit_log_entity", "audit_log", ["entity_type", "entity_id"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("operators")
    op.drop_table("stations")
