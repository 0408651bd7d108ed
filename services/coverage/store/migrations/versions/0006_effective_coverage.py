"""Effective coverage (有效覆盖): the lapsed periods of the branches' routine from training, the
`effective` counter of every scope, and each organisation's `branch_kept`.

No lapse is known at this revision, so every covered organisation is effective: the live
roll-ups' `effective` counters start equal to `covered` (past snapshots keep 0: they were not
measured then).

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

#: Table comments the declared tables gained at 0005 without a migration (old, new).
COMMENTS: dict[str, tuple[str, str]] = {
    "coverage_branches": (
        "Each Party branch at its highest version seen; inactive once dissolved.",
        "Each Party branch at its highest version seen; inactive once dissolved. It counts from "
        "formed_on, until ends_on (inclusive) and before dissolved_on.",
    ),
    "coverage_branch_organizations": (
        "Organisations a live branch covers (none for a dissolved branch).",
        "Organisations a branch covers (a dissolved one: those it covered until then).",
    ),
    "coverage_instructor_assignments": (
        "Instructor assignments (包联); an ended one stays, inactive, so a late copy of its start "
        "cannot revive it.",
        "Instructor assignments (包联); an ended one stays, inactive, so a late copy of its start "
        "cannot revive it. It counts from starts_on, until ends_on and before ended_on.",
    ),
    "coverage_mass_organizations": (
        "Unions, youth leagues, women's federations in organisations; dissolved ones stay, "
        "inactive.",
        "Unions, youth leagues, women's federations in organisations; dissolved ones stay, "
        "inactive. One counts from established_on and before dissolved_on.",
    ),
}


def _comments(*, forward: bool) -> None:
    if op.get_bind().dialect.name != "postgresql":  # SQLite keeps no table comments
        return
    for table, (old, new) in COMMENTS.items():
        op.create_table_comment(
            table, new if forward else old, existing_comment=old if forward else new
        )


def upgrade() -> None:
    _comments(forward=True)
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


def downgrade() -> None:
    op.drop_index("ix_coverage_routine_lapses_period", table_name="coverage_routine_lapses")
    op.drop_table("coverage_routine_lapses")
    for table in ("coverage_rollups", "coverage_snapshots"):
        with op.batch_alter_table(table) as batch:
            for scope in SCOPES:
                batch.drop_column(f"{scope}_effective")
    with op.batch_alter_table("organization_facts") as batch:
        batch.drop_column("branch_kept")
    _comments(forward=False)
