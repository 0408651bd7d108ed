"""Committees as the registry announces them: the approving body of a member's admission.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "committees",
        sa.Column("committee_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("formed_on", sa.Date(), nullable=False),
        comment="Party committees the registry announced (pb.registry.committee.formed): who "
        "approves.",
    )


def downgrade() -> None:
    op.drop_table("committees")
