"""Imports and matching: jobs, their files, rejected rows, conflicts, field provenance.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.tables import BigIntPK, UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_region", sa.String(12), nullable=False),
        sa.Column("rows_total", sa.Integer()),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("columns", sa.JSON()),
        sa.Column("reason", sa.Text()),
        sa.Column("missing_columns", sa.JSON()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint(
            "source", "region_code", "content_hash", name="uq_import_jobs_source_region_hash"
        ),
        comment="One import of a file from a source: its progress and report totals.",
    )
    op.create_index("ix_import_jobs_status", "import_jobs", ["status", "created_at"])
    op.create_table(
        "import_file_chunks",
        sa.Column("job_id", sa.String(36), sa.ForeignKey("import_jobs.id"), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        comment="The uploaded file in 1 MB pieces, so any replica can process or resume the job.",
    )
    op.create_table(
        "import_row_errors",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(36), sa.ForeignKey("import_jobs.id"), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        comment="Why a row of an import was rejected: row number, field and reason.",
    )
    op.create_index("ix_import_row_errors_job", "import_row_errors", ["job_id", "id"])
    op.create_table(
        "import_conflicts",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(36), sa.ForeignKey("import_jobs.id"), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.String(36), nullable=False),
        sa.Column("field", sa.String(40), nullable=False),
        sa.Column("ledger_value", sa.Text()),
        sa.Column("incoming_value", sa.Text()),
        comment="A source said something other than the ledger holds: listed, not overwritten.",
    )
    op.create_index("ix_import_conflicts_job", "import_conflicts", ["job_id", "id"])
    op.create_index("ix_import_conflicts_organization", "import_conflicts", ["organization_id"])
    op.create_table(
        "organization_sources",
        sa.Column("organization_id", sa.String(36), primary_key=True),
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("import_id", sa.String(36), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("matched_by", sa.String(16), nullable=False),
        sa.Column("said_at", UTCDateTime(), nullable=False),
        comment="Provenance: what each source last said about each organisation, when, where from.",
    )


def downgrade() -> None:
    op.drop_table("organization_sources")
    op.drop_table("import_conflicts")
    op.drop_table("import_row_errors")
    op.drop_table("import_file_chunks")
    op.drop_index("ix_import_jobs_status", "import_jobs")
    op.drop_table("import_jobs")
