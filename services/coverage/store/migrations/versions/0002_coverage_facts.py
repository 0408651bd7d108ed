"""Coverage facts per organisation: members, branch, instructors, mass organisations, ledger.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from libs.common.tables import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ADDED: tuple[sa.Column[Any], ...] = (
    sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("credit_code", sa.String(18), nullable=False, server_default=""),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("township_code", sa.String(9), nullable=False, server_default=""),
    sa.Column("size_band", sa.String(16), nullable=False, server_default="unknown"),
    sa.Column("area_ids", sa.Text(), nullable=False, server_default="[]"),
    sa.Column("managed", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("three_haves", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("full_members", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("probationary_members", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("ledger_complete", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("latitude", sa.Float()),
    sa.Column("longitude", sa.Float()),
    sa.Column("branch_id", sa.String(36)),
    sa.Column("branch_kind", sa.String(16)),
    sa.Column("branch_formed_on", sa.Date()),
    sa.Column("instructor_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("mass_organization_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("deregistered_at", UTCDateTime()),
)


def upgrade() -> None:
    with op.batch_alter_table("organization_facts") as batch:
        for column in _ADDED:
            batch.add_column(column._copy())
    op.create_index("ix_organization_facts_township_code", "organization_facts", ["township_code"])


def downgrade() -> None:
    op.drop_index("ix_organization_facts_township_code", "organization_facts")
    with op.batch_alter_table("organization_facts") as batch:
        for column in reversed(_ADDED):
            batch.drop_column(column.name)
