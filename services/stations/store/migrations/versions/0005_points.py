"""The points ledger: transactions, their entries, the rewards catalogue.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.tables import BigIntPK, UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "point_transactions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("worker_id", sa.String(36), sa.ForeignKey("workers.id"), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(32)),
        sa.Column("reward_id", sa.String(36)),
        sa.Column("request_id", sa.String(36)),
        comment="Each award or redemption of points: one transaction of the ledger.",
    )
    op.create_index("ix_point_transactions_worker_id", "point_transactions", ["worker_id", "at"])
    op.create_table(
        "point_entries",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column(
            "transaction_id",
            sa.String(36),
            sa.ForeignKey("point_transactions.id"),
            nullable=False,
        ),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        comment="The two entries of each transaction (they sum to zero); balances are their sums.",
    )
    op.create_index("ix_point_entries_account", "point_entries", ["account"])
    op.create_table(
        "rewards",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("cost", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("stock >= 0", name="ck_rewards_stock_not_negative"),
        comment="The rewards catalogue: benefits bought with points, in limited stock.",
    )
    op.create_index("ix_rewards_region_code_id", "rewards", ["region_code", "id"])


def downgrade() -> None:
    op.drop_table("rewards")
    op.drop_table("point_entries")
    op.drop_table("point_transactions")
