"""Drop the single-column region index: `ix_organizations_region_code_id` starts with the same
column, so it serves every look-up the old one did, and each write updates one index less.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_organizations_region_code", "organizations")


def downgrade() -> None:
    op.create_index("ix_organizations_region_code", "organizations", ["region_code"])
