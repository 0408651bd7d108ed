"""The life cycle of branches and members: a branch needing rectification (reason, deadline) or
flagged for a new parent committee; a member moved out when the organisation left the ledger, and
the branch a transferred member's relationship went to.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("branches") as batch:
        # "needs_rectification" is longer than the 16 characters the column had
        batch.alter_column(
            "status", type_=sa.String(24), existing_type=sa.String(16), existing_nullable=False
        )
        batch.add_column(sa.Column("rectification_reason", sa.Text()))
        batch.add_column(sa.Column("rectify_by", sa.Date()))
        batch.add_column(sa.Column("reparenting_reason", sa.Text()))
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("moved_out_on", sa.Date()))
        batch.add_column(sa.Column("branch_id", sa.String(36)))


def downgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.drop_column("branch_id")
        batch.drop_column("moved_out_on")
    with op.batch_alter_table("branches") as batch:
        batch.drop_column("reparenting_reason")
        batch.drop_column("rectify_by")
        batch.drop_column("rectification_reason")
        batch.alter_column(
            "status", type_=sa.String(16), existing_type=sa.String(24), existing_nullable=False
        )
