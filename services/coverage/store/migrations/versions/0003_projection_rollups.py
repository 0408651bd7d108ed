"""Branches, assignments and mass organisations behind the facts; roll-ups, snapshots, targets,
pending rate changes, branch activity (effective coverage) and rebuild progress.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.tables import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: As in services/coverage/domain/rollups.py COUNTERS at this revision (a migration is frozen).
COUNTERS = tuple(
    f"{scope}_{measure}"
    for scope in ("with_members", "three_haves", "all_managed")
    for measure in ("in_scope", "covered", "standalone", "work")
)


def _counters() -> list[sa.Column[int]]:
    return [
        sa.Column(name, sa.Integer(), nullable=False, server_default=sa.text("0"))
        for name in COUNTERS
    ]


def upgrade() -> None:
    op.create_table(
        "coverage_branches",
        sa.Column("branch_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("formed_on", sa.Date()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        comment="Each Party branch at its highest version seen; inactive once dissolved.",
    )
    op.create_table(
        "coverage_branch_organizations",
        sa.Column("branch_id", sa.String(64), primary_key=True),
        sa.Column("organization_id", sa.String(64), primary_key=True),
        comment="Organisations a live branch covers (none for a dissolved branch).",
    )
    op.create_index(
        "ix_coverage_branch_organizations_org", "coverage_branch_organizations", ["organization_id"]
    )
    op.create_table(
        "coverage_instructor_assignments",
        sa.Column("assignment_id", sa.String(64), primary_key=True),
        sa.Column("instructor_id", sa.String(64), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        comment="Instructor assignments (包联); an ended one stays, inactive, so a late copy of "
        "its start cannot revive it.",
    )
    op.create_index(
        "ix_coverage_instructor_assignments_org",
        "coverage_instructor_assignments",
        ["organization_id"],
    )
    op.create_table(
        "coverage_mass_organizations",
        sa.Column("mass_organization_id", sa.String(64), primary_key=True),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        comment="Unions, youth leagues, women's federations in organisations; dissolved ones "
        "stay, inactive.",
    )
    op.create_index(
        "ix_coverage_mass_organizations_org", "coverage_mass_organizations", ["organization_id"]
    )
    op.create_table(
        "coverage_rollups",
        sa.Column("region_code", sa.String(12), primary_key=True),
        sa.Column("area_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("section", sa.String(8), primary_key=True),
        sa.Column("size_band", sa.String(16), primary_key=True),
        *_counters(),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        comment="Coverage counters per region (or park within it) x kind x industry x size "
        "band, maintained incrementally; rates are read from here only.",
    )
    op.create_table(
        "coverage_snapshots",
        sa.Column("region_code", sa.String(12), primary_key=True),
        sa.Column("area_id", sa.String(64), primary_key=True),
        sa.Column("taken_on", sa.Date(), primary_key=True),
        sa.Column("taken_at", UTCDateTime(), nullable=False),
        *_counters(),
        comment="The counters of each region on a day, as taken then: history is read from here.",
    )
    op.create_table(
        "coverage_targets",
        sa.Column("region_code", sa.String(12), primary_key=True),
        sa.Column("metric", sa.String(16), primary_key=True),
        sa.Column("scope", sa.String(16), primary_key=True),
        sa.Column("due_on", sa.Date(), primary_key=True),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("standing", sa.String(16), nullable=False),
        sa.Column("set_by", sa.String(100), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        comment="Target rates per region and due date (basis points) and where the region stands.",
    )
    op.create_table(
        "coverage_rate_changes",
        sa.Column("region_code", sa.String(12), primary_key=True),
        sa.Column("area_id", sa.String(64), primary_key=True),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        comment="Regions whose counters changed since the last pb.coverage.rates.changed.",
    )
    op.create_table(
        "coverage_branch_activity",
        sa.Column("branch_id", sa.String(64), primary_key=True),
        sa.Column("last_meeting_on", sa.Date()),
        sa.Column(
            "meetings_last_quarter", sa.Integer(), nullable=False, server_default=sa.text("0")
        ),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        comment="Effective coverage (有效覆盖): a branch's 三会一课 activity, filled from "
        "training's meeting events once they exist; empty until then.",
    )
    op.create_table(
        "coverage_rebuilds",
        sa.Column("stream", sa.String(64), primary_key=True),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column("end_sequence", sa.BigInteger(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        comment="Progress of the last rebuild from a stream, so an interrupted one can resume.",
    )


def downgrade() -> None:
    for table in (
        "coverage_rebuilds",
        "coverage_branch_activity",
        "coverage_rate_changes",
        "coverage_targets",
        "coverage_snapshots",
        "coverage_rollups",
        "coverage_mass_organizations",
        "coverage_instructor_assignments",
        "coverage_branch_organizations",
        "coverage_branches",
    ):
        op.drop_table(table)
