"""Platform tables, revision 2: the dead letters' last re-drive (libs/common/dead_letters.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from libs.common.migrations import add_dead_letter_redrive_v2, drop_dead_letter_redrive_v2

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_dead_letter_redrive_v2()


def downgrade() -> None:
    drop_dead_letter_redrive_v2()
