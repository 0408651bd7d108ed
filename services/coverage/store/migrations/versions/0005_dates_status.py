"""Coverage as of a date, operating status, 三有 unknown, temporary branches and the
`all_registered` scope: dated links, the projection's calendar day, new counters.

After upgrading, run `python -m services.coverage rebuild`: the dates, statuses and the new
counters are only known from the events.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.tables import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The counters added at this revision (a migration is frozen): the `temporary` measure of the
#: three scopes there were, and every measure of `all_registered`.
NEW_COUNTERS = (
    *(f"{scope}_temporary" for scope in ("with_members", "three_haves", "all_managed")),
    *(
        f"all_registered_{measure}"
        for measure in ("in_scope", "covered", "standalone", "work", "temporary")
    ),
)


#: Table comments that now say when each dated link counts: (table, now, before).
COMMENTS = (
    (
        "coverage_branches",
        "Each Party branch at its highest version seen; inactive once dissolved. It counts "
        "from formed_on, until ends_on (inclusive) and before dissolved_on.",
        "Each Party branch at its highest version seen; inactive once dissolved.",
    ),
    (
        "coverage_branch_organizations",
        "Organisations a branch covers (a dissolved one: those it covered until then).",
        "Organisations a live branch covers (none for a dissolved branch).",
    ),
    (
        "coverage_instructor_assignments",
        "Instructor assignments (包联); an ended one stays, inactive, so a late copy of its "
        "start cannot revive it. It counts from starts_on, until ends_on and before ended_on.",
        "Instructor assignments (包联); an ended one stays, inactive, so a late copy of its "
        "start cannot revive it.",
    ),
    (
        "coverage_mass_organizations",
        "Unions, youth leagues, women's federations in organisations; dissolved ones stay, "
        "inactive. One counts from established_on and before dissolved_on.",
        "Unions, youth leagues, women's federations in organisations; dissolved ones stay, "
        "inactive.",
    ),
)


def _comment(which: int) -> None:
    """Table comments exist on PostgreSQL only (SQLite keeps none)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, *texts in COMMENTS:
        op.create_table_comment(table, texts[which])


def upgrade() -> None:
    _comment(0)
    with op.batch_alter_table("organization_facts") as batch:
        batch.alter_column("three_haves", existing_type=sa.Boolean(), nullable=True)
        batch.add_column(
            sa.Column("operating_status", sa.String(16), nullable=False, server_default="operating")
        )
        batch.add_column(sa.Column("no_branch_reason", sa.Text()))
    with op.batch_alter_table("coverage_branches") as batch:
        batch.add_column(sa.Column("ends_on", sa.Date()))
        batch.add_column(sa.Column("dissolved_on", sa.Date()))
    with op.batch_alter_table("coverage_instructor_assignments") as batch:
        batch.add_column(sa.Column("starts_on", sa.Date()))
        batch.add_column(sa.Column("ends_on", sa.Date()))
        batch.add_column(sa.Column("ended_on", sa.Date()))
    with op.batch_alter_table("coverage_mass_organizations") as batch:
        batch.add_column(sa.Column("established_on", sa.Date()))
        batch.add_column(sa.Column("dissolved_on", sa.Date()))
    for table in ("coverage_rollups", "coverage_snapshots"):
        with op.batch_alter_table(table) as batch:
            for name in NEW_COUNTERS:
                batch.add_column(
                    sa.Column(name, sa.Integer(), nullable=False, server_default=sa.text("0"))
                )
    op.create_table(
        "coverage_calendar",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        comment="The day (Asia/Shanghai) the projection's dated facts are evaluated at; the day "
        "worker moves it on and flips what starts or ends in between.",
    )


def downgrade() -> None:
    _comment(1)
    op.drop_table("coverage_calendar")
    for table in ("coverage_rollups", "coverage_snapshots"):
        with op.batch_alter_table(table) as batch:
            for name in NEW_COUNTERS:
                batch.drop_column(name)
    with op.batch_alter_table("coverage_mass_organizations") as batch:
        batch.drop_column("dissolved_on")
        batch.drop_column("established_on")
    with op.batch_alter_table("coverage_instructor_assignments") as batch:
        batch.drop_column("ended_on")
        batch.drop_column("ends_on")
        batch.drop_column("starts_on")
    with op.batch_alter_table("coverage_branches") as batch:
        batch.drop_column("dissolved_on")
        batch.drop_column("ends_on")
    with op.batch_alter_table("organization_facts") as batch:
        batch.drop_column("no_branch_reason")
        batch.drop_column("operating_status")
        batch.alter_column("three_haves", existing_type=sa.Boolean(), nullable=False)
