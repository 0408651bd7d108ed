"""Use cases of mobile members (流动党员): declarations from the stations, matched to members.

Stations sends, per worker who declares being a Party member, only keyed hashes (the phone's, and
the ID number's when given) and the region. The registry keeps one record per worker (a second
declaration refreshes it), resolves the ID-number hash from a staff list listing the same phone
when none was given, and matches the record to the member record of the same person, now and
whenever a staff list or roster later brings that person in (`note_staff`, `note_members`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from libs.common.ids import new_id
from libs.common.logging import get_logger
from libs.common.tables import utcnow
from services.registry.domain.identity import Person
from services.registry.domain.mobile_members import MobileMember, MobileMemberView
from services.registry.store.uow import RegistryUnitOfWork

log = get_logger(__name__)

STATIONS = "stations"


@dataclass(frozen=True)
class Declaration:
    """One worker's declaration as stations announced it (hashes and places only)."""

    worker_id: str
    region_code: str
    community_code: str | None
    phone_hash: str
    id_hash: str | None
    declared_on: date


async def record_declarations(uow: RegistryUnitOfWork, batch: Sequence[Declaration]) -> int:
    """Keep these declarations (the last per worker wins) and match them; how many matched."""
    latest = {d.worker_id: d for d in batch}
    known = await uow.members.mobile_members_by_source(STATIONS, sorted(latest))
    learnt = await uow.members.id_hashes_of_phones(
        sorted({d.phone_hash for d in latest.values() if d.id_hash is None})
    )
    now = utcnow()
    records = []
    for worker_id, d in latest.items():
        before = known.get(worker_id)
        id_hash = d.id_hash or learnt.get(d.phone_hash) or (before.id_hash if before else None)
        fresh = MobileMember(
            id=before.id if before else new_id(),
            source=STATIONS,
            source_ref=worker_id,
            phone_hash=d.phone_hash,
            id_hash=id_hash,
            region_code=d.region_code,
            community_code=d.community_code,
            declared_on=d.declared_on,
            created_at=before.created_at if before else now,
            updated_at=now,
        )
        if before is not None and before.id_hash == id_hash:
            fresh = replace(fresh, member_id=before.member_id, matched_at=before.matched_at)
        records.append(fresh)
    await uow.members.save_mobile_members(records)
    matched = await uow.members.match_mobile_members(
        sorted({r.id_hash for r in records if r.id_hash and r.member_id is None}), now
    )
    log.info("mobile members declared", declared=len(records), matched=matched)
    return matched


async def note_staff(uow: RegistryUnitOfWork, people: Sequence[Person]) -> None:
    """A staff list arrived: mobile members known by phone only learn their ID-number hash."""
    await uow.members.learn_mobile_id_hashes(people, utcnow())


async def note_members(uow: RegistryUnitOfWork, id_hashes: Sequence[str]) -> None:
    """Member records of these people now exist: match the mobile members among them."""
    matched = await uow.members.match_mobile_members(sorted(set(id_hashes)), utcnow())
    if matched:
        log.info("mobile members matched", matched=matched)


async def mobile_members_in(
    uow: RegistryUnitOfWork, region_code: str, *, after: str | None, limit: int
) -> list[MobileMemberView]:
    return await uow.members.mobile_members_in(region_code, after=after, limit=limit)
