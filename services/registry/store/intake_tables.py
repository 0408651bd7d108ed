"""Tables of what the registry learns from other services' events: the candidates training
develops (as counted here) and the mobile members (流动党员) stations' workers declare.

Like every registry table, no column holds a raw ID number or phone: `*_hash` are keyed hashes.
"""

from sqlalchemy import Column, Date, Index, String, Table, UniqueConstraint

from libs.common.tables import UTCDateTime
from services.registry.store.tables import metadata

__all__ = ["mobile_members", "pipeline_candidates"]

pipeline_candidates = Table(
    "pipeline_candidates",
    metadata,
    Column("candidate_id", String(64), primary_key=True),  # training's opaque id
    Column("organization_id", String(36), nullable=False),
    Column("branch_id", String(64), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("state", String(16), nullable=False),  # probationary | full | cancelled
    Column("stepped_on", Date(), nullable=False),  # the date of the step last applied
    Column("event_id", String(64), nullable=False),  # the event that applied it
    Column("updated_at", UTCDateTime(), nullable=False),
)

mobile_members = Table(
    "mobile_members",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("source", String(16), nullable=False),  # the service that learnt of them: stations
    Column("source_ref", String(64), nullable=False),  # its opaque id of the person (a worker)
    Column("phone_hash", String(64), nullable=False),
    Column("id_hash", String(64)),  # given, or learnt from a staff list with the same phone
    Column("region_code", String(12), nullable=False),
    Column("community_code", String(12)),
    Column("declared_on", Date(), nullable=False),
    Column("member_id", String(36)),  # the registry's member record of the same person, once found
    Column("matched_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("source", "source_ref", name="uq_mobile_members_source"),
)

Index("ix_mobile_members_region_code", mobile_members.c.region_code)
Index("ix_mobile_members_phone_hash", mobile_members.c.phone_hash)
Index("ix_mobile_members_id_hash", mobile_members.c.id_hash)
