"""Tables of the training service's store: branch routines, meetings, lapses, the audit trail."""

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from libs.common.audit import audit_table
from libs.common.tables import BigIntPK, UTCDateTime

metadata = MetaData()

audit_log = audit_table(metadata)

branch_routines = Table(
    "branch_routines",
    metadata,
    Column("branch_id", String(36), primary_key=True),
    Column("version", Integer(), nullable=False, server_default=text("1")),
    Column("kind", String(16), nullable=False),
    Column("name", String(200), nullable=False, server_default=""),
    Column("region_code", String(12), nullable=False),
    Column("organization_ids", Text(), nullable=False, server_default="[]"),
    Column("formed_on", Date(), nullable=False),
    Column("dissolved_on", Date()),
    Column("committee_since", Date()),
    Column("groups_since", Date()),
    Column("judged_through", Date(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="Each branch the registry announced, and how far its routine has been judged.",
)
Index("ix_branch_routines_region_code", branch_routines.c.region_code)
Index("ix_branch_routines_judged_through", branch_routines.c.judged_through)

meetings = Table(
    "meetings",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("branch_id", String(36), nullable=False),
    Column("meeting_type", String(32), nullable=False),
    Column("held_on", Date(), nullable=False),
    Column("topic", String(500), nullable=False),
    Column("entitled", Integer(), nullable=False),
    Column("present", Integer(), nullable=False),
    Column("recorded_at", UTCDateTime(), nullable=False),
    comment="Meetings of the branch routine (三会一课) as branches recorded them.",
)
Index(
    "ix_meetings_branch_type_held",
    meetings.c.branch_id,
    meetings.c.meeting_type,
    meetings.c.held_on,
)

routine_lapses = Table(
    "routine_lapses",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("branch_id", String(36), nullable=False),
    Column("meeting_type", String(32), nullable=False),
    Column("frequency", String(8), nullable=False),
    Column("period_starts_on", Date(), nullable=False),
    Column("judged_on", Date(), nullable=False),
    Column("restored_on", Date()),
    Column("restored_by", String(36)),
    Column("period_met", Boolean(), nullable=False, server_default=false()),
    UniqueConstraint(
        "branch_id", "meeting_type", "period_starts_on", name="uq_routine_lapses_period"
    ),
    comment="Periods that closed without their meeting (routine.lapsed), until restored.",
)
Index("ix_routine_lapses_branch_restored", routine_lapses.c.branch_id, routine_lapses.c.restored_on)
