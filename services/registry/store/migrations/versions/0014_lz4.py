"""lz4 for the large values the registry writes in bulk: the outbox's event data (an import's
`organization.imported` events, several KB each) and an import's stored rows (1 MB pieces).
PostgreSQL 14+ with lz4 only; elsewhere nothing changes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from libs.common.migrations import default_compression, prefer_lz4

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (("pb_outbox", "data"), ("import_file_chunks", "data"))


def upgrade() -> None:
    for table, column in COLUMNS:
        prefer_lz4(table, column)


def downgrade() -> None:
    for table, column in COLUMNS:
        default_compression(table, column)
