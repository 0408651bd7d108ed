"""Mobile members (流动党员) declared where they work, not where their relationship is.

A gig worker (a rider, a courier, a driver) who says at a station that they are a Party member is
recorded here by region, with only the keyed hashes stations sent (HMAC-SHA256 of the phone, and
of the ID number when one was given, under the identity key both services share): no name, no
number. When the same person appears on a staff list (by phone) or a roster and so becomes a
member record here (by ID number), the mobile member is matched to that record, and the office
sees the record's masked name and ID number beside the declaration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class MobileMember:
    """One declaration as kept: where and when, and the member record it matched, if any."""

    id: str
    source: str
    source_ref: str
    phone_hash: str
    id_hash: str | None
    region_code: str
    community_code: str | None
    declared_on: date
    created_at: datetime
    updated_at: datetime
    member_id: str | None = None
    matched_at: datetime | None = None


@dataclass(frozen=True)
class MobileMemberView:
    """A mobile member as an office reads it: masked identity only when a record matched."""

    member: MobileMember
    organization_id: str | None = None
    name_masked: str | None = None
    id_masked: str | None = None
    membership: str | None = None
