"""Workers and their community check-ins.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.tables import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("platform", sa.String(200), nullable=False),
        sa.Column("occupation", sa.String(32), nullable=False),
        sa.Column("name_hash", sa.String(64), nullable=False),
        sa.Column("name_masked", sa.String(64), nullable=False),
        sa.Column("phone_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("phone_masked", sa.String(16), nullable=False),
        sa.Column("registered_at", UTCDateTime(), nullable=False),
        sa.Column("community_code", sa.String(12)),
        sa.Column("area_name", sa.String(200)),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("checked_in_on", sa.Date()),
        sa.Column("member_declared_on", sa.Date()),
        sa.Column("version", sa.Integer(), nullable=False),
        comment="Workers of the new employment groups: name and phone only hashed and masked.",
    )
    op.create_index("ix_workers_region_code_id", "workers", ["region_code", "id"])
    op.create_table(
        "check_ins",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("worker_id", sa.String(36), sa.ForeignKey("workers.id"), nullable=False),
        sa.Column("community_code", sa.String(12), nullable=False),
        sa.Column("area_name", sa.String(200)),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("checked_in_on", sa.Date(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        comment="Every community check-in (社区报到) of every worker, in order.",
    )
    op.create_index("ix_check_ins_worker_id", "check_ins", ["worker_id", "at"])


def downgrade() -> None:
    op.drop_table("check_ins")
    op.drop_table("workers")
