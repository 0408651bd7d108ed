"""Tables of members, Party organisations, instructors and mass organisations.

No column holds a raw ID number or phone: `*_hash` columns are keyed hashes (HMAC-SHA256 hex) used
for matching, `*_masked` columns what people may read.
"""

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
    true,
)

from libs.common.tables import UTCDateTime
from services.registry.store.tables import metadata

__all__ = [
    "branch_organizations",
    "branches",
    "committees",
    "instructor_assignments",
    "instructors",
    "mass_organizations",
    "members",
    "metadata",
    "roster_entries",
    "staff_entries",
]

staff_entries = Table(
    "staff_entries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("organization_id", String(36), ForeignKey("organizations.id"), nullable=False),
    Column("id_hash", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("id_masked", String(18), nullable=False),
    Column("phone_hash", String(64)),
    Column("phone_masked", String(11)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("organization_id", "id_hash", name="uq_staff_entries_person"),
    comment="People on organisations' staff lists: keyed hashes and masked forms, no raw numbers.",
)
Index("ix_staff_entries_id_hash", staff_entries.c.id_hash)

roster_entries = Table(
    "roster_entries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("region_code", String(12), nullable=False),  # the office's region the extract covers
    Column("id_hash", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("id_masked", String(18), nullable=False),
    Column("membership", String(16), nullable=False),
    Column("registered_with", String(200)),
    Column("upload_id", String(36), nullable=False),  # the roster upload that last listed them
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("region_code", "id_hash", name="uq_roster_entries_person"),
    comment="Party members from the member information system's extract, per office region.",
)
Index("ix_roster_entries_id_hash", roster_entries.c.id_hash)
Index("ix_roster_entries_upload_id", roster_entries.c.upload_id)

members = Table(
    "members",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("organization_id", String(36), ForeignKey("organizations.id"), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("id_hash", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("id_masked", String(18), nullable=False),
    Column("phone_masked", String(11)),
    Column("membership", String(16), nullable=False),
    Column("registered_with", String(200)),
    Column("status", String(16), nullable=False),
    Column("discovered_at", UTCDateTime(), nullable=False),
    Column("declared_on", Date()),
    Column("transferred_on", Date()),
    Column("moved_out_on", Date()),  # its organisation left the ledger
    Column("branch_id", String(36)),  # the branch holding the relationship once transferred
    Column("version", Integer(), nullable=False, server_default=text("1")),
    UniqueConstraint("organization_id", "id_hash", name="uq_members_person"),
    comment="Party members found at organisations (隐形党员) and their status.",
)
Index("ix_members_region_code", members.c.region_code)

committees = Table(
    "committees",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("parent_id", String(36), ForeignKey("committees.id")),
    Column("region_code", String(12), nullable=False),
    Column("formed_on", Date(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    comment="Parent committees: 行业党委, 综合党委, 园区党委, 两新工委, as a tree.",
)
Index("ix_committees_region_code", committees.c.region_code)

branches = Table(
    "branches",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("parent_id", String(36), ForeignKey("committees.id"), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("formed_on", Date(), nullable=False),
    Column("ends_on", Date()),
    Column("can_develop_members", Boolean(), nullable=False, server_default=true()),
    Column("status", String(24), nullable=False, server_default="active"),
    Column("warnings", JSON(), nullable=False, server_default="[]"),
    Column("dissolved_on", Date()),
    Column("dissolution_reason", Text()),
    Column("version", Integer(), nullable=False),
    Column("rectification_reason", Text()),  # why it needs rectification (status says it does)
    Column("rectify_by", Date()),
    Column("reparenting_reason", Text()),  # set while it is flagged for a new parent committee
    # the rectify_by whose passing was announced (once per deadline): the announcer's memory
    Column("overdue_announced_for", Date()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="Basic-level Party organisations: standalone, joint and temporary branches.",
)
Index("ix_branches_region_code", branches.c.region_code)
Index("ix_branches_rectify_by", branches.c.rectify_by)

branch_organizations = Table(
    "branch_organizations",
    metadata,
    Column("branch_id", String(36), ForeignKey("branches.id"), primary_key=True),
    Column("organization_id", String(36), ForeignKey("organizations.id"), primary_key=True),
    Column("unable_reason", Text()),
    Column("added_on", Date(), nullable=False),
    Column("removed_on", Date()),
    Column("ended_by", String(16)),  # null while covering; "removed" or "dissolved"
    comment="Which organisations each branch covers; ended_by set when it stops covering one.",
)
# An organisation is covered by at most one active branch: the store enforces it too.
Index(
    "uq_branch_organizations_covering",
    branch_organizations.c.organization_id,
    unique=True,
    postgresql_where=branch_organizations.c.ended_by.is_(None),
    sqlite_where=branch_organizations.c.ended_by.is_(None),
)

instructors = Table(
    "instructors",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    comment="Party-building instructors (党建指导员).",
)
Index("ix_instructors_region_code", instructors.c.region_code)

instructor_assignments = Table(
    "instructor_assignments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("instructor_id", String(36), ForeignKey("instructors.id"), nullable=False),
    Column("organization_id", String(36), ForeignKey("organizations.id"), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("starts_on", Date(), nullable=False),
    Column("ends_on", Date()),
    Column("ended_on", Date()),
    Column("created_at", UTCDateTime(), nullable=False),
    comment="Instructors assigned to organisations (包联), with their dates.",
)
Index("ix_instructor_assignments_instructor", instructor_assignments.c.instructor_id)
Index("ix_instructor_assignments_organization", instructor_assignments.c.organization_id)

mass_organizations = Table(
    "mass_organizations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("organization_id", String(36), ForeignKey("organizations.id"), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("name", String(200)),
    Column("established_on", Date(), nullable=False),
    Column("dissolved_on", Date()),
    Column("dissolution_reason", Text()),
    Column("created_at", UTCDateTime(), nullable=False),
    comment="Trade unions, youth league and women's federation bodies in organisations.",
)
# One active mass organisation of each kind per organisation.
Index(
    "uq_mass_organizations_active_kind",
    mass_organizations.c.organization_id,
    mass_organizations.c.kind,
    unique=True,
    postgresql_where=mass_organizations.c.dissolved_on.is_(None),
    sqlite_where=mass_organizations.c.dissolved_on.is_(None),
)
