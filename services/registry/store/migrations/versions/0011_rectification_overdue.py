"""The rectification deadline a branch's overdue notice was given for (given once per deadline).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("branches") as batch:
        batch.add_column(sa.Column("overdue_announced_for", sa.Date()))
    op.create_index("ix_branches_rectify_by", "branches", ["rectify_by"])


def downgrade() -> None:
    op.drop_index("ix_branches_rectify_by", table_name="branches")
    with op.batch_alter_table("branches") as batch:
        batch.drop_column("overdue_announced_for")
