"""The branch routine (三会一课): branches, meetings, lapses; the audit trail.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.tables import BigIntPK, UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_region", sa.String(12), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("entity_type", sa.String(50), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        comment="Who changed what and when: one row per write.",
    )
    op.create_index("ix_audit_log_region_code_id", "audit_log", ["region_code", "id"])
    op.create_index("ix_audit_log_entity", "audit_log", ["entity_type", "entity_id"])
    op.create_table(
        "branch_routines",
        sa.Column("branch_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1")),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("organization_ids", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("formed_on", sa.Date(), nullable=False),
        sa.Column("dissolved_on", sa.Date()),
        sa.Column("committee_since", sa.Date()),
        sa.Column("groups_since", sa.Date()),
        sa.Column("judged_through", sa.Date(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        comment="Each branch the registry announced, and how far its routine has been judged.",
    )
    op.create_index("ix_branch_routines_region_code", "branch_routines", ["region_code"])
    op.create_index("ix_branch_routines_judged_through", "branch_routines", ["judged_through"])
    op.create_table(
        "meetings",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("branch_id", sa.String(36), nullable=False),
        sa.Column("meeting_type", sa.String(32), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("topic", sa.String(500), nullable=False),
        sa.Column("entitled", sa.Integer(), nullable=False),
        sa.Column("present", sa.Integer(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        comment="Meetings of the branch routine (三会一课) as branches recorded them.",
    )
    op.create_index(
        "ix_meetings_branch_type_held", "meetings", ["branch_id", "meeting_type", "held_on"]
    )
    op.create_table(
        "routine_lapses",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("branch_id", sa.String(36), nullable=False),
        sa.Column("meeting_type", sa.String(32), nullable=False),
        sa.Column("frequency", sa.String(8), nullable=False),
        sa.Column("period_starts_on", sa.Date(), nullable=False),
        sa.Column("judged_on", sa.Date(), nullable=False),
        sa.Column("restored_on", sa.Date()),
        sa.Column("restored_by", sa.String(36)),
        sa.Column("period_met", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.UniqueConstraint(
            "branch_id", "meeting_type", "period_starts_on", name="uq_routine_lapses_period"
        ),
        comment="Periods that closed without their meeting (routine.lapsed), until restored.",
    )
    op.create_index(
        "ix_routine_lapses_branch_restored", "routine_lapses", ["branch_id", "restored_on"]
    )


def downgrade() -> None:
    op.drop_table("routine_lapses")
    op.drop_table("meetings")
    op.drop_table("branch_routines")
    op.drop_table("audit_log")
