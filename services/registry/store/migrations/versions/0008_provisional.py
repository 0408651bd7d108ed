"""Provisional files and fields left out: an organisation may have no credit code yet (a
business a survey found unregistered; NULL in the unique column), and a rejected-row entry of an
import may instead be a field left out of a row that went in.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.alter_column("credit_code", existing_type=sa.String(18), nullable=True)
    with op.batch_alter_table("import_row_errors") as batch:
        batch.add_column(
            sa.Column("rejected", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("import_row_errors") as batch:
        batch.drop_column("rejected")
    provisional = op.get_bind().execute(
        sa.text("SELECT count(*) FROM organizations WHERE credit_code IS NULL")
    )
    if provisional.scalar_one():
        raise RuntimeError("provisional files (no credit code) exist: give them codes first")
    with op.batch_alter_table("organizations") as batch:
        batch.alter_column("credit_code", existing_type=sa.String(18), nullable=False)
