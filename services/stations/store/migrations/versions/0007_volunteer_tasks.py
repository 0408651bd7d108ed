"""Volunteer tasks (志愿服务), their participants, and the task an award was earned by.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.tables import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "volunteer_tasks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("station_id", sa.String(36), sa.ForeignKey("stations.id")),
        sa.Column("community_code", sa.String(12)),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("places", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.Column("posted_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime()),
        sa.Column("cancelled_at", UTCDateTime()),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "taken >= 0 AND taken <= places", name="ck_volunteer_tasks_taken_in_places"
        ),
        comment="Volunteer tasks (志愿服务) the offices post, with their places and points.",
    )
    op.create_index("ix_volunteer_tasks_region_code_id", "volunteer_tasks", ["region_code", "id"])
    op.create_table(
        "volunteer_participants",
        sa.Column("task_id", sa.String(36), sa.ForeignKey("volunteer_tasks.id"), primary_key=True),
        sa.Column("worker_id", sa.String(36), sa.ForeignKey("workers.id"), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("signed_up_at", UTCDateTime(), nullable=False),
        sa.Column("withdrawn_at", UTCDateTime()),
        sa.Column("attendance_at", UTCDateTime()),
        sa.Column("score", sa.Integer()),
        sa.Column("comment", sa.Text()),
        sa.Column("rated_at", UTCDateTime()),
        sa.Column("transaction_id", sa.String(36)),
        comment="Each worker's sign-up for a volunteer task, attendance and rating.",
    )
    op.create_index("ix_volunteer_participants_worker_id", "volunteer_participants", ["worker_id"])
    with op.batch_alter_table("point_transactions") as batch:
        batch.add_column(sa.Column("volunteer_task_id", sa.String(36)))


def downgrade() -> None:
    with op.batch_alter_table("point_transactions") as batch:
        batch.drop_column("volunteer_task_id")
    op.drop_table("volunteer_participants")
    op.drop_table("volunteer_tasks")
