"""Courses, sessions, learners, enrolments, study hours, door-to-door deliveries.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
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
        "courses",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("format", sa.String(24), nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("class_hours", sa.Float(), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        comment="Courses (理论课堂, 微党课, 送教上门, 暖新课堂...) offered in a region.",
    )
    op.create_index("ix_courses_region_code", "courses", ["region_code"])
    op.create_table(
        "course_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("course_id", sa.String(36), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("place", sa.String(200)),
        sa.Column("station_id", sa.String(36)),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("class_hours", sa.Float(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        comment="Sessions of a course: when, where (a place or a station), how many seats.",
    )
    op.create_index("ix_course_sessions_course_id", "course_sessions", ["course_id"])
    op.create_table(
        "learners",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("id_masked", sa.String(18), nullable=False),
        sa.Column("name_masked", sa.String(100), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("branch_id", sa.String(36)),
        sa.Column("organization_id", sa.String(36)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("region_code", "id_hash", name="uq_learners_person"),
        comment="People who study (members, workers, instructors): keyed hash and masked forms.",
    )
    op.create_index("ix_learners_region_role", "learners", ["region_code", "role"])
    op.create_table(
        "enrolments",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("learner_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("session_id", "learner_id", name="uq_enrolments_seat"),
        comment="Seats and the waiting list of each session (first come, first served).",
    )
    op.create_table(
        "study_records",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("learner_id", sa.String(36), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.Column("studied_on", sa.Date(), nullable=False),
        sa.Column("session_id", sa.String(36)),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("description", sa.String(500)),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("session_id", "learner_id", name="uq_study_records_attendance"),
        comment="Class hours studied: attendance at sessions, and external study recorded.",
    )
    op.create_table(
        "study_totals",
        sa.Column("learner_id", sa.String(36), primary_key=True),
        sa.Column("year", sa.Integer(), primary_key=True),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        comment="Class hours per learner and year, kept with each study record (for compliance).",
    )
    op.create_index(
        "ix_study_totals_year_region",
        "study_totals",
        ["year", "region_code", "role", "hours"],
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("delivered_on", sa.Date(), nullable=False),
        sa.Column("course_id", sa.String(36)),
        sa.Column("note", sa.String(500)),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        comment="Door-to-door teaching (送教上门): booklets handed out, visits made.",
    )
    op.create_index("ix_deliveries_region_code", "deliveries", ["region_code"])


def downgrade() -> None:
    for table in (
        "deliveries",
        "study_totals",
        "study_records",
        "enrolments",
        "learners",
        "course_sessions",
        "courses",
    ):
        op.drop_table(table)
