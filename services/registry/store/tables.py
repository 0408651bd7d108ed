"""Tables of the registry service's store: the ledger, named areas and the audit trail.

Import tables live in `import_tables.py` and Party-organisation tables in `party_tables.py`, on
the same `metadata`; `services/registry/store/__init__.py` imports them so it is complete.
"""

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    false,
    text,
)
from sqlalchemy.engine import Dialect

from libs.common.audit import audit_table
from libs.common.tables import UTCDateTime

metadata = MetaData()


class CreditCode(TypeDecorator[str]):
    """A credit code column where a provisional file's empty code is stored as NULL (so the
    unique index holds for real codes only) and read back as ``""``."""

    impl = String(18)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return value or None

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return value or ""


areas = Table(
    "areas",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(32), nullable=False),  # park | commercial_district | building
    Column("name", String(200), nullable=False),
    Column("region_code", String(12), nullable=False),  # the township it lies in
    Column("created_at", UTCDateTime(), nullable=False),
    comment="Parks, commercial districts and buildings: named areas inside a township.",
)
Index("ix_areas_region_code", areas.c.region_code)

organizations = Table(
    "organizations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("credit_code", CreditCode(), unique=True),  # NULL: a provisional file
    Column("name", String(200), nullable=False),
    Column("name_key", String(200), nullable=False, server_default=""),
    Column("kind", String(32), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("park_id", String(36), ForeignKey("areas.id")),
    Column("district_id", String(36), ForeignKey("areas.id")),
    Column("industry_code", String(8)),
    Column("address", String(300)),
    Column("latitude", Float()),
    Column("longitude", Float()),
    Column("staff_count", Integer()),
    Column("investors", JSON(), nullable=False, server_default="[]"),
    Column("operating_status", String(16), nullable=False, server_default="operating"),
    Column("has_premises", Boolean()),
    Column("stable_operations", Boolean()),
    Column("full_members", Integer(), nullable=False, server_default=text("0")),
    Column("probationary_members", Integer(), nullable=False, server_default=text("0")),
    Column("no_branch_reason", Text()),
    Column("ledger_operations", Boolean(), nullable=False, server_default=false()),
    Column("ledger_workforce", Boolean(), nullable=False, server_default=false()),
    Column("ledger_members", Boolean(), nullable=False, server_default=false()),
    Column("ledger_investors", Boolean(), nullable=False, server_default=false()),
    Column("ledger_no_branch_reason", Boolean(), nullable=False, server_default=false()),
    Column("ledger_mass_organizations", Boolean(), nullable=False, server_default=false()),
    Column("branch_id", String(36)),  # the Party organisation covering it (party_tables)
    Column("branch_kind", String(16)),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("deregistered_on", Date()),
    Column("deregistration_reason", Text()),
    Column("version", Integer(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="One row per organisation in the ledger (一企一档).",
)
# Lists walk a region's subtree in (region_code, id) order with a keyset cursor: one range scan.
Index("ix_organizations_region_code_id", organizations.c.region_code, organizations.c.id)
Index("ix_organizations_name_key", organizations.c.name_key, organizations.c.region_code)

audit_log = audit_table(metadata)
