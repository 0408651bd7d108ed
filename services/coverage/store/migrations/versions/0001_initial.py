"""Platform tables and the organisation projection.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.migrations import create_platform_tables_v1, drop_platform_tables_v1
from libs.common.tables import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_platform_tables_v1()
    op.create_table(
        "organization_facts",
        sa.Column("organization_id", sa.String(36), primary_key=True),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("industry_code", sa.String(8)),
        sa.Column("staff_count", sa.Integer()),
        sa.Column("registered_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        comment="Per organisation, the coverage facts learnt from registry events.",
    )
    op.create_index("ix_organization_facts_region_code", "organization_facts", ["region_code"])


def downgrade() -> None:
    op.drop_table("organization_facts")
    drop_platform_tables_v1()
