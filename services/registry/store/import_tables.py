"""Tables of imports and matching (摸排比对): jobs, their files, rejected rows, conflicts, and
what each source said about each organisation (provenance)."""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)

from libs.common.tables import BigIntPK, UTCDateTime
from services.registry.store.tables import metadata

__all__ = [
    "import_conflicts",
    "import_file_chunks",
    "import_jobs",
    "import_row_errors",
    "metadata",
    "organization_sources",
]

import_jobs = Table(
    "import_jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("source", String(32), nullable=False),
    Column("region_code", String(12), nullable=False),  # the importing office's region
    Column("filename", String(255), nullable=False),
    Column("content_hash", String(64), nullable=False),  # sha256 of the file
    Column("size_bytes", BigInteger(), nullable=False),
    Column("status", String(16), nullable=False),  # queued | running | done | rejected | failed
    Column("actor", String(200), nullable=False),
    Column("actor_region", String(12), nullable=False),
    Column("rows_total", Integer()),  # data rows, known once the file has been checked
    Column("rows_done", Integer(), nullable=False),  # data rows committed: where a resume starts
    Column("counts", JSON(), nullable=False),
    Column("columns", JSON()),  # the header mapping: used, dropped and ignored columns
    Column("reason", Text()),  # why the whole file was rejected (or failed)
    Column("missing_columns", JSON()),
    Column("attempts", Integer(), nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    Column("updated_at", UTCDateTime(), nullable=False),
    # rows: the kept columns as JSON lines, personal data masked; file: as uploaded (the jobs
    # before migration 0010, and the safe reading of a row inserted without saying)
    Column("stored_as", String(8), nullable=False, server_default="file"),
    UniqueConstraint(
        "source", "region_code", "content_hash", name="uq_import_jobs_source_region_hash"
    ),
    comment="One import of a file from a source: its progress and report totals.",
)
Index("ix_import_jobs_status", import_jobs.c.status, import_jobs.c.created_at)

import_file_chunks = Table(
    "import_file_chunks",
    metadata,
    Column("job_id", String(36), ForeignKey("import_jobs.id"), primary_key=True),
    Column("seq", Integer(), primary_key=True, autoincrement=False),
    Column("data", LargeBinary(), nullable=False),
    comment="The job's rows in 1 MB pieces (only the columns it reads, ID numbers and phones "
    "masked), so any replica can process or resume it; deleted when the job is done.",
)

import_row_errors = Table(
    "import_row_errors",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("job_id", String(36), ForeignKey("import_jobs.id"), nullable=False),
    Column("row", Integer(), nullable=False),
    Column("field", String(40), nullable=False),
    Column("reason", Text(), nullable=False),
    # False: only this field was left out, the row went in without it.
    Column("rejected", Boolean(), nullable=False, server_default=true()),
    comment="Why a row of an import was rejected: row number, field and reason.",
)
Index("ix_import_row_errors_job", import_row_errors.c.job_id, import_row_errors.c.id)

import_conflicts = Table(
    "import_conflicts",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("job_id", String(36), ForeignKey("import_jobs.id"), nullable=False),
    Column("row", Integer(), nullable=False),
    Column("organization_id", String(36), nullable=False),
    Column("field", String(40), nullable=False),
    Column("ledger_value", Text()),  # JSON
    Column("incoming_value", Text()),  # JSON
    comment="A source said something other than the ledger holds: listed, not overwritten.",
)
Index("ix_import_conflicts_job", import_conflicts.c.job_id, import_conflicts.c.id)
Index("ix_import_conflicts_organization", import_conflicts.c.organization_id)

organization_sources = Table(
    "organization_sources",
    metadata,
    Column("organization_id", String(36), primary_key=True),
    Column("source", String(32), primary_key=True),
    Column("values", JSON(), nullable=False),  # field -> value, as the source said it
    Column("import_id", String(36), nullable=False),
    Column("row", Integer(), nullable=False),
    Column("matched_by", String(16), nullable=False),  # credit_code | name | new
    Column("said_at", UTCDateTime(), nullable=False),
    comment="Provenance: what each source last said about each organisation, when, where from.",
)
