"""When a target's passed due date was judged (pb.coverage.target.overdue is said once).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("coverage_targets") as batch:
        batch.add_column(sa.Column("judged_on", sa.Date()))


def downgrade() -> None:
    with op.batch_alter_table("coverage_targets") as batch:
        batch.drop_column("judged_on")
