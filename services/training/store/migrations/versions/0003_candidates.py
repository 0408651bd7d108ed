"""The member-development pipeline: candidates and their deadlines.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.tables import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "candidates",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1")),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("organization_id", sa.String(36), nullable=False),
        sa.Column("branch_id", sa.String(36), nullable=False),
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("id_masked", sa.String(18), nullable=False),
        sa.Column("name_masked", sa.String(100), nullable=False),
        sa.Column("stage", sa.String(24), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("talked_on", sa.Date()),
        sa.Column("activist_on", sa.Date()),
        sa.Column("target_on", sa.Date()),
        sa.Column("political_review_on", sa.Date()),
        sa.Column("trained_on", sa.Date()),
        sa.Column("training_days", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("training_hours", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("introducers", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("admitted_on", sa.Date()),
        sa.Column("vote_entitled", sa.Integer()),
        sa.Column("vote_present", sa.Integer()),
        sa.Column("vote_yes", sa.Integer()),
        sa.Column("approved_on", sa.Date()),
        sa.Column("approval_extended", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("extension_months", sa.Integer()),
        sa.Column("confirmed_on", sa.Date()),
        sa.Column("cancelled_on", sa.Date()),
        sa.Column("cancel_reason", sa.String(500)),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        comment="The member-development pipeline (四本台账): one row per candidate, "
        "no raw identifiers.",
    )
    op.create_index("ix_candidates_region_code", "candidates", ["region_code"])
    op.create_index("ix_candidates_id_hash", "candidates", ["id_hash"])
    op.create_table(
        "candidate_deadlines",
        sa.Column("candidate_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("warn_on", sa.Date(), nullable=False),
        sa.Column("warned_on", sa.Date()),
        sa.Column("breached_on", sa.Date()),
        sa.Column("closed", sa.Boolean(), nullable=False, server_default=sa.false()),
        comment="Durable timers of the pipeline: talk due, approval due, probation ending.",
    )
    op.create_index("ix_candidate_deadlines_warn_on", "candidate_deadlines", ["warn_on"])
    op.create_index("ix_candidate_deadlines_due_on", "candidate_deadlines", ["due_on"])


def downgrade() -> None:
    op.drop_table("candidate_deadlines")
    op.drop_table("candidates")
