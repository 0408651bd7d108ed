"""Visits: scanned check-ins, daily counts, the daily workers' marks.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.tables import BigIntPK, UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "visits",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("station_id", sa.String(36), sa.ForeignKey("stations.id"), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("worker_id", sa.String(36)),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        comment="Scanned check-ins at stations.",
    )
    op.create_index("ix_visits_station_day", "visits", ["station_id", "day"])
    op.create_index("ix_visits_region_day", "visits", ["region_code", "day"])
    op.create_table(
        "visit_counts",
        sa.Column("station_id", sa.String(36), sa.ForeignKey("stations.id"), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("entered_at", UTCDateTime(), nullable=False),
        comment="The visits a station counted itself on a day (walk-ins included).",
    )
    op.create_index("ix_visit_counts_region_day", "visit_counts", ["region_code", "day"])
    op.create_table(
        "worker_marks",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
        comment="How far each daily worker has got (the last day it has done).",
    )


def downgrade() -> None:
    op.drop_table("worker_marks")
    op.drop_table("visit_counts")
    op.drop_table("visits")
