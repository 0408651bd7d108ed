"""Members, Party organisations, committees, instructors, mass organisations.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.tables import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_entries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "organization_id", sa.String(36), sa.ForeignKey("organizations.id"), nullable=False
        ),
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("id_masked", sa.String(18), nullable=False),
        sa.Column("phone_hash", sa.String(64)),
        sa.Column("phone_masked", sa.String(11)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("organization_id", "id_hash", name="uq_staff_entries_person"),
        comment="People on organisations' staff lists: keyed hashes and masked forms, "
        "no raw numbers.",
    )
    op.create_index("ix_staff_entries_id_hash", "staff_entries", ["id_hash"])
    op.create_table(
        "roster_entries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("id_masked", sa.String(18), nullable=False),
        sa.Column("membership", sa.String(16), nullable=False),
        sa.Column("registered_with", sa.String(200)),
        sa.Column("upload_id", sa.String(36), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("region_code", "id_hash", name="uq_roster_entries_person"),
        comment="Party members from the member information system's extract, per office region.",
    )
    op.create_index("ix_roster_entries_id_hash", "roster_entries", ["id_hash"])
    op.create_index("ix_roster_entries_upload_id", "roster_entries", ["upload_id"])
    op.create_table(
        "members",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "organization_id", sa.String(36), sa.ForeignKey("organizations.id"), nullable=False
        ),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("id_masked", sa.String(18), nullable=False),
        sa.Column("phone_masked", sa.String(11)),
        sa.Column("membership", sa.String(16), nullable=False),
        sa.Column("registered_with", sa.String(200)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("discovered_at", UTCDateTime(), nullable=False),
        sa.Column("declared_on", sa.Date()),
        sa.Column("transferred_on", sa.Date()),
        sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1")),
        sa.UniqueConstraint("organization_id", "id_hash", name="uq_members_person"),
        comment="Party members found at organisations (隐形党员) and their status.",
    )
    op.create_index("ix_members_region_code", "members", ["region_code"])
    op.create_table(
        "committees",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("parent_id", sa.String(36), sa.ForeignKey("committees.id")),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("formed_on", sa.Date(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        comment="Parent committees: 行业党委, 综合党委, 园区党委, 两新工委, as a tree.",
    )
    op.create_index("ix_committees_region_code", "committees", ["region_code"])
    op.create_table(
        "branches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("parent_id", sa.String(36), sa.ForeignKey("committees.id"), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("formed_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date()),
        sa.Column("can_develop_members", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("warnings", sa.JSON(), nullable=False, server_default="[]"),
        sa.Column("dissolved_on", sa.Date()),
        sa.Column("dissolution_reason", sa.Text()),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        comment="Basic-level Party organisations: standalone, joint and temporary branches.",
    )
    op.create_index("ix_branches_region_code", "branches", ["region_code"])
    op.create_table(
        "branch_organizations",
        sa.Column("branch_id", sa.String(36), sa.ForeignKey("branches.id"), primary_key=True),
        sa.Column(
            "organization_id", sa.String(36), sa.ForeignKey("organizations.id"), primary_key=True
        ),
        sa.Column("unable_reason", sa.Text()),
        sa.Column("added_on", sa.Date(), nullable=False),
        sa.Column("removed_on", sa.Date()),
        sa.Column("ended_by", sa.String(16)),
        comment="Which organisations each branch covers; ended_by set when it stops covering one.",
    )
    op.create_index(
        "uq_branch_organizations_covering",
        "branch_organizations",
        ["organization_id"],
        unique=True,
        postgresql_where=sa.text("ended_by IS NULL"),
        sqlite_where=sa.text("ended_by IS NULL"),
    )
    op.create_table(
        "instructors",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        comment="Party-building instructors (党建指导员).",
    )
    op.create_index("ix_instructors_region_code", "instructors", ["region_code"])
    op.create_table(
        "instructor_assignments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("instructor_id", sa.String(36), sa.ForeignKey("instructors.id"), nullable=False),
        sa.Column(
            "organization_id", sa.String(36), sa.ForeignKey("organizations.id"), nullable=False
        ),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date()),
        sa.Column("ended_on", sa.Date()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        comment="Instructors assigned to organisations (包联), with their dates.",
    )
    op.create_index(
        "ix_instructor_assignments_instructor", "instructor_assignments", ["instructor_id"]
    )
    op.create_index(
        "ix_instructor_assignments_organization", "instructor_assignments", ["organization_id"]
    )
    op.create_table(
        "mass_organizations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "organization_id", sa.String(36), sa.ForeignKey("organizations.id"), nullable=False
        ),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("established_on", sa.Date(), nullable=False),
        sa.Column("dissolved_on", sa.Date()),
        sa.Column("dissolution_reason", sa.Text()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        comment="Trade unions, youth league and women's federation bodies in organisations.",
    )
    op.create_index(
        "uq_mass_organizations_active_kind",
        "mass_organizations",
        ["organization_id", "kind"],
        unique=True,
        postgresql_where=sa.text("dissolved_on IS NULL"),
        sqlite_where=sa.text("dissolved_on IS NULL"),
    )


def downgrade() -> None:
    for table in (
        "mass_organizations",
        "instructor_assignments",
        "instructors",
        "branch_organizations",
        "branches",
        "committees",
        "members",
        "roster_entries",
        "staff_entries",
    ):
        op.drop_table(table)
