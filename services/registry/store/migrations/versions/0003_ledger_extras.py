"""Ledger extras: an index for listing a region's organisations in (region_code, id) order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_organizations_region_code_id", "organizations", ["region_code", "id"])


def downgrade() -> None:
    op.drop_index("ix_organizations_region_code_id", "organizations")
