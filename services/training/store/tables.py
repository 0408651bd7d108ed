"""Tables of the training service's store: branch routines, meetings, lapses, the audit trail."""

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
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

committees = Table(
    "committees",
    metadata,
    Column("committee_id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(200), nullable=False, server_default=""),
    Column("region_code", String(12), nullable=False),
    Column("formed_on", Date(), nullable=False),
    comment="Party committees the registry announced (pb.registry.committee.formed): who approves.",
)
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

candidates = Table(
    "candidates",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("version", Integer(), nullable=False, server_default=text("1")),
    Column("region_code", String(12), nullable=False),
    Column("organization_id", String(36), nullable=False),
    Column("branch_id", String(36), nullable=False),
    Column("id_hash", String(64), nullable=False),
    Column("id_masked", String(18), nullable=False),
    Column("name_masked", String(100), nullable=False),
    Column("stage", String(24), nullable=False),
    Column("applied_on", Date(), nullable=False),
    Column("talked_on", Date()),
    Column("activist_on", Date()),
    Column("target_on", Date()),
    Column("political_review_on", Date()),
    Column("trained_on", Date()),
    Column("training_days", Integer(), nullable=False, server_default=text("0")),
    Column("training_hours", Integer(), nullable=False, server_default=text("0")),
    Column("introducers", Text(), nullable=False, server_default="[]"),
    Column("admitted_on", Date()),
    Column("vote_entitled", Integer()),
    Column("vote_present", Integer()),
    Column("vote_yes", Integer()),
    Column("approved_on", Date()),
    Column("approval_extended", Boolean(), nullable=False, server_default=false()),
    Column("extension_months", Integer()),
    Column("confirmed_on", Date()),
    Column("cancelled_on", Date()),
    Column("cancel_reason", String(500)),
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="The member-development pipeline (四本台账): one row per candidate, "
    "no raw identifiers.",
)
Index("ix_candidates_region_code", candidates.c.region_code)
Index("ix_candidates_id_hash", candidates.c.id_hash)

candidate_deadlines = Table(
    "candidate_deadlines",
    metadata,
    Column("candidate_id", String(36), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("due_on", Date(), nullable=False),
    Column("warn_on", Date(), nullable=False),
    Column("warned_on", Date()),
    Column("breached_on", Date()),
    Column("closed", Boolean(), nullable=False, server_default=false()),
    comment="Durable timers of the pipeline: talk due, approval due, probation ending.",
)
Index("ix_candidate_deadlines_warn_on", candidate_deadlines.c.warn_on)
Index("ix_candidate_deadlines_due_on", candidate_deadlines.c.due_on)

courses = Table(
    "courses",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("format", String(24), nullable=False),
    Column("audience", String(16), nullable=False),
    Column("class_hours", Float(), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    comment="Courses (理论课堂, 微党课, 送教上门, 暖新课堂...) offered in a region.",
)
Index("ix_courses_region_code", courses.c.region_code)

course_sessions = Table(
    "course_sessions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("course_id", String(36), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("place", String(200)),
    Column("station_id", String(36)),
    Column("capacity", Integer(), nullable=False),
    Column("code", String(16), nullable=False),
    Column("class_hours", Float(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    comment="Sessions of a course: when, where (a place or a station), how many seats.",
)
Index("ix_course_sessions_course_id", course_sessions.c.course_id)

learners = Table(
    "learners",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("region_code", String(12), nullable=False),
    Column("id_hash", String(64), nullable=False),
    Column("id_masked", String(18), nullable=False),
    Column("name_masked", String(100), nullable=False),
    Column("role", String(24), nullable=False),
    Column("branch_id", String(36)),
    Column("organization_id", String(36)),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("region_code", "id_hash", name="uq_learners_person"),
    comment="People who study (members, workers, instructors): keyed hash and masked forms.",
)
Index("ix_learners_region_role", learners.c.region_code, learners.c.role)

enrolments = Table(
    "enrolments",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("session_id", String(36), nullable=False),
    Column("learner_id", String(36), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("session_id", "learner_id", name="uq_enrolments_seat"),
    comment="Seats and the waiting list of each session (first come, first served).",
)

study_records = Table(
    "study_records",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("learner_id", String(36), nullable=False),
    Column("year", Integer(), nullable=False),
    Column("hours", Float(), nullable=False),
    Column("studied_on", Date(), nullable=False),
    Column("session_id", String(36)),
    Column("method", String(16), nullable=False),
    Column("description", String(500)),
    Column("recorded_at", UTCDateTime(), nullable=False),
    UniqueConstraint("session_id", "learner_id", name="uq_study_records_attendance"),
    comment="Class hours studied: attendance at sessions, and external study recorded.",
)

study_totals = Table(
    "study_totals",
    metadata,
    Column("learner_id", String(36), primary_key=True),
    Column("year", Integer(), primary_key=True),
    Column("region_code", String(12), nullable=False),
    Column("role", String(24), nullable=False),
    Column("hours", Float(), nullable=False),
    comment="Class hours per learner and year, kept with each study record (for compliance).",
)
# covering: a region's compliance is read from this index alone
Index(
    "ix_study_totals_year_region",
    study_totals.c.year,
    study_totals.c.region_code,
    study_totals.c.role,
    study_totals.c.hours,
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("region_code", String(12), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("count", Integer(), nullable=False),
    Column("delivered_on", Date(), nullable=False),
    Column("course_id", String(36)),
    Column("note", String(500)),
    Column("recorded_at", UTCDateTime(), nullable=False),
    comment="Door-to-door teaching (送教上门): booklets handed out, visits made.",
)
Index("ix_deliveries_region_code", deliveries.c.region_code)
