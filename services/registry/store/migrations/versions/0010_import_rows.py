"""Imports keep only the rows they read, masked, and only while the job needs them.

An import job's file used to be kept whole, forever, with the columns the import drops (法人身份证,
联系电话, 备注). From here the upload is stored as the job's rows (`stored_as` = rows: the columns
it reads, ID numbers and phones masked) and deleted when the job is done. The files of jobs
already done or rejected are deleted now; a job still waiting keeps its file (`stored_as` =
file), which the worker stores as rows before it runs it; a failed job's file goes with the
hourly purge once `import_file_retention_hours` have passed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COMMENT = (
    "The job's rows in 1 MB pieces (only the columns it reads, ID numbers and phones masked), "
    "so any replica can process or resume it; deleted when the job is done."
)
_OLD_COMMENT = "The uploaded file in 1 MB pieces, so any replica can process or resume the job."


def upgrade() -> None:
    # Plain ADD COLUMN on both stores (SQLite's batch mode would copy import_jobs, which the
    # chunks' foreign key forbids). Every job before this one holds its file as uploaded.
    op.add_column(
        "import_jobs",
        sa.Column("stored_as", sa.String(8), nullable=False, server_default="file"),
    )
    op.execute(
        "DELETE FROM import_file_chunks WHERE job_id IN "
        "(SELECT id FROM import_jobs WHERE status IN ('done', 'rejected'))"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.create_table_comment("import_file_chunks", _COMMENT, existing_comment=_OLD_COMMENT)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_table_comment("import_file_chunks", _OLD_COMMENT, existing_comment=_COMMENT)
    with op.batch_alter_table("import_jobs") as batch:
        batch.drop_column("stored_as")
