"""The last stream sequence the projection's consumers applied: with it, redeliveries are
recognised by sequence, with no inbox row per event.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.tables import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pb_consumer_positions",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("stream", sa.String(100), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        comment="The last stream sequence each ordered consumer applied, written in the same "
        "transaction as the effect: what is at or below it is a redelivery.",
    )


def downgrade() -> None:
    op.drop_table("pb_consumer_positions")
