"""The full ledger file (一企一档), named areas and the audit trail.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.tables import BigIntPK, UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEDGER = (
    "ledger_operations",
    "ledger_workforce",
    "ledger_members",
    "ledger_investors",
    "ledger_no_branch_reason",
    "ledger_mass_organizations",
)


def _added() -> list[sa.Column[object]]:
    columns: list[sa.Column[object]] = [
        sa.Column("name_key", sa.String(200), nullable=False, server_default=""),
        sa.Column("park_id", sa.String(36)),
        sa.Column("district_id", sa.String(36)),
        sa.Column("address", sa.String(300)),
        sa.Column("latitude", sa.Float()),
        sa.Column("longitude", sa.Float()),
        sa.Column("investors", sa.JSON(), nullable=False, server_default="[]"),
        sa.Column("operating_status", sa.String(16), nullable=False, server_default="operating"),
        sa.Column("has_premises", sa.Boolean()),
        sa.Column("stable_operations", sa.Boolean()),
        sa.Column("full_members", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column(
            "probationary_members", sa.Integer(), nullable=False, server_default=sa.text("0")
        ),
        sa.Column("no_branch_reason", sa.Text()),
    ]
    columns += [
        sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()) for name in _LEDGER
    ]
    columns += [
        sa.Column("branch_id", sa.String(36)),
        sa.Column("branch_kind", sa.String(16)),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("deregistered_on", sa.Date()),
        sa.Column("deregistration_reason", sa.Text()),
    ]
    return columns


def upgrade() -> None:
    op.create_table(
        "areas",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        comment="Parks, commercial districts and buildings: named areas inside a township.",
    )
    op.create_index("ix_areas_region_code", "areas", ["region_code"])
    with op.batch_alter_table("organizations") as batch:
        for column in _added():
            batch.add_column(column)
        batch.create_foreign_key("fk_organizations_park_id_areas", "areas", ["park_id"], ["id"])
        batch.create_foreign_key(
            "fk_organizations_district_id_areas", "areas", ["district_id"], ["id"]
        )
    op.create_index("ix_organizations_name_key", "organizations", ["name_key", "region_code"])
    op.create_table(
        "audit_log",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_region", sa.String(12), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("entity_type", sa.String(50), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        comment="Who changed what and when: one row per write.",
    )
    op.create_index("ix_audit_log_region_code_id", "audit_log", ["region_code", "id"])
    op.create_index("ix_audit_log_entity", "audit_log", ["entity_type", "entity_id"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_index("ix_organizations_name_key", "organizations")
    with op.batch_alter_table("organizations") as batch:
        batch.drop_constraint("fk_organizations_district_id_areas", type_="foreignkey")
        batch.drop_constraint("fk_organizations_park_id_areas", type_="foreignkey")
        for column in reversed(_added()):
            batch.drop_column(column.name)
    op.drop_table("areas")
