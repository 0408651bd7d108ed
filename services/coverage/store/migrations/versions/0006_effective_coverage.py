"""Effective coverage (有效覆盖): the lapsed periods of the branches' routine from training, the
`effective` counter of every scope, and each organisation's `branch_kept`; and the new
employment groups' workers, stations and requests from the stations service.

No lapse is known at this revision, so every covered organisation is effective: the live
roll-ups' `effective` counters start equal to `covered`. Past snapshots were not measured: their
`effective_measured` is NULL and they answer effective coverage with null.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.tables import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The scopes at this revision (a migration is frozen).
SCOPES = ("with_members", "three_haves", "all_managed", "all_registered")


def upgrade() -> None:
    with op.batch_alter_table("organization_facts") as batch:
        batch.add_column(
            sa.Column("branch_kept", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    for table in ("coverage_rollups", "coverage_snapshots"):
        with op.batch_alter_table(table) as batch:
            for scope in SCOPES:
                batch.add_column(
                    sa.Column(
                        f"{scope}_effective",
                        sa.Integer(),
                        nullable=False,
                        server_default=sa.text("0"),
                    )
                )
    with op.batch_alter_table("coverage_snapshots") as batch:
        # NULL for the snapshots taken until now: their effective counters were not kept
        batch.add_column(sa.Column("effective_measured", sa.Boolean()))
    rollups = sa.table(
        "coverage_rollups",
        *(
            sa.column(f"{scope}_{m}", sa.Integer())
            for scope in SCOPES
            for m in ("covered", "effective")
        ),
    )
    op.execute(
        rollups.update().values(
            {f"{scope}_effective": rollups.c[f"{scope}_covered"] for scope in SCOPES}
        )
    )
    op.create_table(
        "coverage_routine_lapses",
        sa.Column("branch_id", sa.String(64), primary_key=True),
        sa.Column("obligation", sa.String(32), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("period_starts_on", sa.Date(), nullable=False),
        sa.Column("period_ends_on", sa.Date(), nullable=False),
        sa.Column("met", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        comment="Effective coverage (有效覆盖): each period of a branch's routine that training "
        "judged lapsed; met once a routine.restored says the meeting was held inside it after all.",
    )
    op.create_index(
        "ix_coverage_routine_lapses_period",
        "coverage_routine_lapses",
        ["period_ends_on", "period_starts_on"],
    )

    _new_employment_tables()


def _new_employment_tables() -> None:
    op.create_table(
        "coverage_workers",
        sa.Column("worker_id", sa.String(64), primary_key=True),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("registered_on", sa.Date()),
        sa.Column("checked_in_on", sa.Date()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        comment="Workers of the new employment groups by opaque id and region (no name, no "
        "phone): registered on a day, checked in with a community from a day.",
    )
    op.create_index(
        "ix_coverage_workers_region",
        "coverage_workers",
        ["region_code", "registered_on", "checked_in_on"],
    )
    op.create_table(
        "coverage_stations",
        sa.Column("station_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("opened_on", sa.Date()),
        sa.Column("closed_on", sa.Date()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        comment="Stations (驿站) at their highest version seen; one is open from opened_on and "
        "before closed_on.",
    )
    op.create_index(
        "ix_coverage_stations_region",
        "coverage_stations",
        ["region_code", "opened_on", "closed_on"],
    )
    op.create_table(
        "coverage_requests",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("resolved_on", sa.Date()),
        sa.Column("on_time", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        comment="Requests (点单) at their latest resolution or reopening: resolved on a day, on "
        "time or not.",
    )
    op.create_index(
        "ix_coverage_requests_region",
        "coverage_requests",
        ["region_code", "resolved_on", "on_time"],
    )


def downgrade() -> None:
    for table in ("coverage_requests", "coverage_stations", "coverage_workers"):
        op.drop_index(f"ix_{table}_region", table_name=table)
        op.drop_table(table)
    op.drop_index("ix_coverage_routine_lapses_period", table_name="coverage_routine_lapses")
    op.drop_table("coverage_routine_lapses")
    with op.batch_alter_table("coverage_snapshots") as batch:
        batch.drop_column("effective_measured")
    for table in ("coverage_rollups", "coverage_snapshots"):
        with op.batch_alter_table(table) as batch:
            for scope in SCOPES:
                batch.drop_column(f"{scope}_effective")
    with op.batch_alter_table("organization_facts") as batch:
        batch.drop_column("branch_kept")
