"""What the registry consumes: candidates training develops, as counted here, and mobile members
(流动党员) declared at the stations.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.tables import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pipeline_candidates",
        sa.Column("candidate_id", sa.String(64), primary_key=True),
        sa.Column("organization_id", sa.String(36), nullable=False),
        sa.Column("branch_id", sa.String(64), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("stepped_on", sa.Date(), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "mobile_members",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_ref", sa.String(64), nullable=False),
        sa.Column("phone_hash", sa.String(64), nullable=False),
        sa.Column("id_hash", sa.String(64)),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("community_code", sa.String(12)),
        sa.Column("declared_on", sa.Date(), nullable=False),
        sa.Column("member_id", sa.String(36)),
        sa.Column("matched_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("source", "source_ref", name="uq_mobile_members_source"),
    )
    op.create_index("ix_mobile_members_region_code", "mobile_members", ["region_code"])
    op.create_index("ix_mobile_members_phone_hash", "mobile_members", ["phone_hash"])
    op.create_index("ix_mobile_members_id_hash", "mobile_members", ["id_hash"])


def downgrade() -> None:
    op.drop_table("mobile_members")
    op.drop_table("pipeline_candidates")
