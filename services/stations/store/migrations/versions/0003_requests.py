"""The request loop: requests, their history, durable SLA timers.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.tables import BigIntPK, UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("requester_kind", sa.String(16), nullable=False),
        sa.Column("requester_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("station_id", sa.String(36)),
        sa.Column("latitude", sa.Float()),
        sa.Column("longitude", sa.Float()),
        sa.Column("photo_ref", sa.String(300)),
        sa.Column("unit", sa.String(64)),
        sa.Column("placed_at", UTCDateTime(), nullable=False),
        sa.Column("dispatched_at", UTCDateTime()),
        sa.Column("accepted_at", UTCDateTime()),
        sa.Column("resolved_at", UTCDateTime()),
        sa.Column("rated_at", UTCDateTime()),
        sa.Column("closed_at", UTCDateTime()),
        sa.Column("accept_due_at", UTCDateTime()),
        sa.Column("resolve_due_at", UTCDateTime()),
        sa.Column("accept_on_time", sa.Boolean()),
        sa.Column("resolve_on_time", sa.Boolean()),
        sa.Column("score", sa.Integer()),
        sa.Column("comment", sa.Text()),
        sa.Column("returns", sa.Integer(), nullable=False),
        sa.Column("reopens", sa.Integer(), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        comment="Requests in the loop 点单→派单→接单→评单, in their current state.",
    )
    op.create_index("ix_requests_region_code_id", "requests", ["region_code", "id"])
    op.create_index("ix_requests_unit_state", "requests", ["unit", "state"])
    op.create_table(
        "request_history",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(36), sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("party", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("unit", sa.String(64)),
        sa.Column("note", sa.Text()),
        comment="Every move of every request, in order.",
    )
    op.create_index("ix_request_history_request_id", "request_history", ["request_id", "id"])
    op.create_table(
        "sla_timers",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(36), sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("fired_at", UTCDateTime()),
        comment="Durable SLA timers: the worker fires those due, so they survive restarts.",
    )
    op.create_index(
        "ix_sla_timers_pending",
        "sla_timers",
        ["due_at"],
        postgresql_where=sa.column("done").is_(False),
        sqlite_where=sa.column("done").is_(False),
    )
    op.create_index("ix_sla_timers_request_id", "sla_timers", ["request_id", "stage"])


def downgrade() -> None:
    op.drop_table("sla_timers")
    op.drop_table("request_history")
    op.drop_table("requests")
